/**
 * Master-key rotation: re-seals every sealed value of a store under a new master key.
 *
 * Resumable: values already under the new key are skipped, so an interrupted run is simply run
 * again. The master-key check value is re-sealed last, so until a run completes the store still
 * verifies against the old key; during a rotation run processes with the new key as
 * `KAGIYA_MASTER_KEY` and the old one as `KAGIYA_MASTER_KEY_OLD` ({@link loadSealer} reads both).
 *
 * @module
 */
import { MASTER_CHECK_META } from "./common.ts";
import { MasterKeyError } from "./errors.ts";
import { loadMasterKey, readMasterKey, Sealer, sealedKeyVersion, type MasterKey } from "./sealed.ts";
import type { SealedCell, SettingsStore } from "./types.ts";

/** What a rotation run did. */
export interface RotationReport {
  /** Values re-sealed under the new key in this run. */
  resealed: number;
  /** Values that were already under the new key. */
  skipped: number;
  /** Sealed values in the store when the run started. */
  total: number;
  /** True when every value (and the check value) is under the new key. */
  complete: boolean;
  /** The new key's version. */
  version: string;
}

/** Options of {@link rotateMasterKey}. */
export interface RotationOptions {
  /** Stop after re-sealing this many values (a batch); run again to continue. */
  limit?: number;
  /** Called after each value is re-sealed or skipped. Never given the value. */
  onProgress?: (cell: Omit<SealedCell, "value">, action: "resealed" | "skipped") => void;
}

/**
 * Re-seals every sealed value in `store` from any key in `oldKeys` to `newKey`, with
 * listSealed/replaceSealed compare-and-set (a value changed meanwhile is read again).
 * Throws {@link MasterKeyError} `ERR_MASTER_KEY_MISMATCH` when a value is under a key that is
 * neither old nor new (nothing is written for it), and SealedValueError for a value that does
 * not open.
 *
 * @example
 * ```ts
 * const report = await rotateMasterKey(store, MasterKey.parse(newText), [MasterKey.parse(oldText)]);
 * console.log(`${report.resealed} re-sealed, ${report.skipped} already done`);
 * ```
 */
export async function rotateMasterKey(store: Pick<SettingsStore, "listSealed" | "replaceSealed">, newKey: MasterKey, oldKeys: readonly MasterKey[], options: RotationOptions = {}): Promise<RotationReport> {
  const sealer = new Sealer(newKey, oldKeys);
  const report: RotationReport = { resealed: 0, skipped: 0, total: 0, complete: false, version: newKey.version };
  const limit = options.limit ?? Infinity;
  // A few passes: a value rewritten concurrently (under an old key) is picked up by the next.
  for (let pass = 0; pass < 5; pass++) {
    const cells = await store.listSealed();
    if (pass === 0) report.total = cells.length;
    let pending = 0;
    // The check value goes last: it is what says "this store is under the new key".
    cells.sort((a, b) => Number(isCheck(a)) - Number(isCheck(b)));
    for (const cell of cells) {
      const { value, ...where } = cell;
      const version = sealedKeyVersion(value);
      if (version === newKey.version) {
        if (pass === 0) {
          report.skipped++;
          options.onProgress?.(where, "skipped");
        }
        continue;
      }
      if (version !== null && !sealer.canOpen(value)) {
        throw new MasterKeyError(
          "ERR_MASTER_KEY_MISMATCH",
          `${cell.table} ${cell.row} ${cell.column} is sealed with master key version ${version}, which is neither the old key (${oldKeys.map((k) => k.version).join(", ") || "none given"}) nor the new one (${newKey.version}): give the right KAGIYA_MASTER_KEY_OLD`,
        );
      }
      if (isCheck(cell) && pending > 0) continue;
      if (report.resealed >= limit) return report;
      const ctx = { table: cell.table, row: cell.row, column: cell.column };
      const resealed = sealer.seal(sealer.open(value, ctx), ctx);
      if (await store.replaceSealed({ ...where, value: resealed }, value)) {
        report.resealed++;
        options.onProgress?.(where, "resealed");
      } else {
        pending++;
      }
    }
    if (pending === 0) {
      report.complete = (await store.listSealed()).every((c) => sealedKeyVersion(c.value) === newKey.version);
      if (report.complete) return report;
    }
  }
  return report;
}

function isCheck(cell: SealedCell): boolean {
  return cell.table === "meta" && cell.row === MASTER_CHECK_META;
}

/**
 * The sealer a process should use: seals with `KAGIYA_MASTER_KEY` (or `_FILE`) and also opens
 * values under `KAGIYA_MASTER_KEY_OLD` (or `_OLD_FILE`) when set, so processes keep working
 * while `kagiya keys rotate-master` runs. Throws MasterKeyError when no key is set.
 *
 * @example
 * ```ts
 * const registry = await ChannelRegistry.open(store, loadSealer(process.env));
 * ```
 */
export function loadSealer(env: Record<string, string | undefined>, cwd?: string): Sealer {
  const current = loadMasterKey(env, cwd);
  const old = readMasterKey(env, { value: "KAGIYA_MASTER_KEY_OLD", file: "KAGIYA_MASTER_KEY_OLD_FILE" }, cwd);
  return new Sealer(current, old && old.version !== current.version ? [old] : []);
}
