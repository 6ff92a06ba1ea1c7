// `kagiya channel import FILE` and `kagiya channel export`: many channels in and their public part
// out, as JSON Lines. Import is all or nothing per file: every line is validated, then compared
// with the store, and only when no line is refused is anything written.
import type { JWK } from "jose";
import { InvalidInputError } from "../../core/errors.ts";
import { readTextFile } from "../../node/read-text.ts";
import { MASTER_CHECK_META } from "../../store/common.ts";
import { openStore } from "../../store/open.ts";
import { LINE_WORKS_KIND } from "../../kinds/line-works/index.ts";
import { ChannelRegistry, type Channel } from "../../store/registry.ts";
import { loadSealer } from "../../store/rotate.ts";
import type { ChannelRow, Store } from "../../store/types.ts";
import { cliKinds } from "../kinds.ts";
import { parseArgs } from "../args.ts";
import { JSON_FLAG, STORE_FLAG } from "../help.ts";
import type { CliIO, Command } from "../io.ts";
import { onePositional } from "./channel.ts";
import { readImportLines, type ImportLine, type LineRefusal } from "./channel-import-lines.ts";

/** Largest import file read: about 20,000 channels with their keys. */
export const MAX_IMPORT_BYTES = 64 << 20;

/** What happens to a valid line: a new channel, a changed one (with --replace), or one already there as it is. */
type Outcome = "added" | "replaced" | "skipped";

interface Planned {
  credential: ImportLine;
  outcome: Outcome;
  /** The row as stored before, to put back if a later write fails. */
  previous: ChannelRow | null;
}

type ImportFlags = { "dry-run"?: boolean; json?: boolean; replace?: boolean; store?: string };

/** `kagiya channel import FILE [--dry-run] [--replace] [--json] [--store SPEC]` */
export const importChannels: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, {
    "dry-run": { kind: "boolean", help: "check every line and report, write nothing" },
    replace: { kind: "boolean", help: "replace credentials already registered with a different key, kid, secret, kind or policy (for an app: settings or secrets)" },
    store: STORE_FLAG,
    json: JSON_FLAG,
  });
  const file = onePositional(positionals, "channel import", "FILE");
  const text = await readTextFile(file, { cwd: io.cwd, what: "import file", maxBytes: MAX_IMPORT_BYTES, ownerOnly: true });
  const sealer = loadSealer(io.env, io.cwd); // no master key: refused before any store is opened
  const read = await readImportLines(text, cliKinds(io.env));
  if (read.refusals.length > 0) return refused(io, flags, file, read.lines, read.refusals);
  if (read.credentials.length === 0) throw new InvalidInputError(`import file "${file}" holds no credentials (one JSON object a line)`, { field: file });

  const registry = await openRegistry(io, flags, sealer);
  try {
    const { plan, refusals } = await planImport(registry, read.credentials, flags.replace === true);
    if (refusals.length > 0) return refused(io, flags, file, read.lines, refusals);
    if (!flags["dry-run"] && registry !== null) await writePlan(registry, plan);
    reportImport(io, flags, file, plan);
  } finally {
    await registry?.store.close();
  }
  return 0;
};

/**
 * The registry to import into. A dry run never creates a store: without one, nothing is
 * registered (null), and a store whose master key check is not written yet is not given one.
 */
async function openRegistry(io: CliIO, flags: ImportFlags, sealer: ReturnType<typeof loadSealer>): Promise<ChannelRegistry | null> {
  const dryRun = flags["dry-run"] === true;
  let store: Store;
  try {
    store = await openStore(flags.store, io.env, { cwd: io.cwd, ...(dryRun ? { mustExist: true } : {}) });
  } catch (error) {
    if (dryRun && error instanceof InvalidInputError && error.code === "ERR_STORE_NOT_FOUND") return null;
    throw error;
  }
  try {
    if (dryRun && (await store.getMeta(MASTER_CHECK_META)) === null) return new ChannelRegistry(store, sealer);
    return await ChannelRegistry.open(store, sealer);
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
}

/** Store calls in flight at once: a network store answers many together, SQLite one by one. */
const IN_FLIGHT = 16;

/**
 * Runs `fn` over `items`, at most {@link IN_FLIGHT} at once. After the first failure no new item
 * starts; the ones in flight finish, then that failure is thrown.
 */
async function eachInFlight<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
}

/** Compares each line with what the store holds; a changed channel is refused unless `replace`. */
async function planImport(registry: ChannelRegistry | null, credentials: ImportLine[], replace: boolean): Promise<{ plan: Planned[]; refusals: LineRefusal[] }> {
  const results: Array<Planned | LineRefusal> = new Array(credentials.length);
  await eachInFlight(credentials.map((credential, i) => ({ credential, i })), async ({ credential, i }) => {
    const id = credential.input.channelId;
    const previous = registry === null ? null : await registry.store.getChannel(id);
    const existing = previous === null ? null : await registry!.get(id);
    if (existing === null) {
      results[i] = { credential, outcome: "added", previous: null };
      return;
    }
    const changed = differences(existing, credential.input);
    if (changed.length === 0) results[i] = { credential, outcome: "skipped", previous };
    else if (replace) results[i] = { credential, outcome: "replaced", previous };
    else {
      const reason = `channel ${id} is already registered with another ${changed.join(", ")} (pass --replace to replace it)`;
      results[i] = { line: credential.line, id, field: changed[0]!, reason };
    }
  });
  const plan = results.filter((r): r is Planned => "outcome" in r);
  return { plan, refusals: results.filter((r): r is LineRefusal => !("outcome" in r)) };
}

/** The fields in which a registered channel differs from a line (names only, never values). */
function differences(existing: Channel, input: ImportLine["input"]): string[] {
  const out: string[] = [];
  if (existing.kid !== input.kid) out.push("kid");
  if (!sameKey(existing.privateKey, input.privateKey)) out.push("key");
  if (existing.channelSecret !== input.channelSecret) out.push("secret");
  if (existing.kind !== input.kind) out.push("kind");
  if (input.kind === LINE_WORKS_KIND) out.push(...changedNames(existing.settings, input.settings), ...changedNames(existing.secrets, input.secrets));
  else if (!sameRecord(existing.settings, input.settings)) out.push("auth");
  if (!sameRecord(existing.policy, input.policy)) out.push("policy");
  return out;
}

/** The same RSA key, whatever members beside the key material (alg, use) each copy carries. */
function sameKey(a: JWK, b: JWK): boolean {
  return a.kty === b.kty && a.n === b.n && a.e === b.e && a.d === b.d;
}

/** The names whose values differ between two records (a LINE WORKS app's settings or secrets). */
function changedNames(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]);
}

function sameRecord(a: object, b: object): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => (a as Record<string, unknown>)[k] === (b as Record<string, unknown>)[k]);
}

/**
 * Writes the plan, then one audit row per channel written. When a write fails the channels
 * written already are taken out again (new ones removed, replaced ones put back), so the file is
 * never left half imported.
 */
async function writePlan(registry: ChannelRegistry, plan: Planned[]): Promise<void> {
  const done: Planned[] = [];
  try {
    await eachInFlight(plan.filter((p) => p.outcome !== "skipped"), async (p) => {
      await registry.add(p.credential.input, { replace: p.outcome === "replaced" });
      done.push(p);
    });
  } catch (error) {
    await eachInFlight(done, async (p) => {
      if (p.previous === null) await registry.store.deleteChannel(p.credential.input.channelId).catch(() => {});
      else await registry.store.putChannel(p.previous).catch(() => {});
    });
    throw error;
  }
  const at = Date.now();
  await eachInFlight(done, async (p) => {
    const { channelId, kid, kind, settings } = p.credential.input;
    const works = kind === LINE_WORKS_KIND;
    const action = `${works ? "works" : "channel"}.${p.outcome === "replaced" ? "replace" : "add"}`;
    const detail = works ? `client ${settings["clientId"]}, scope ${settings["scope"]}, import line ${p.credential.line}` : `kid ${kid}, ${kind}, import line ${p.credential.line}`;
    await registry.store.appendAudit({ at, action, actor: "cli", channelId, keyId: null, detail });
  });
}

function countOf(plan: Planned[], outcome: Outcome): number {
  return plan.filter((p) => p.outcome === outcome).length;
}

function reportImport(io: CliIO, flags: ImportFlags, file: string, plan: Planned[]): void {
  const dryRun = flags["dry-run"] === true;
  const [added, replaced, skipped] = [countOf(plan, "added"), countOf(plan, "replaced"), countOf(plan, "skipped")];
  if (flags.json) {
    const lines = plan.map((p) => ({ line: p.credential.line, id: p.credential.input.channelId, kind: p.credential.input.kind, outcome: p.outcome }));
    io.stdout(JSON.stringify({ file, dryRun, written: !dryRun && added + replaced > 0, added, replaced, skipped, refused: 0, lines }) + "\n");
    return;
  }
  const counts = `${added} added, ${replaced} replaced, ${skipped} skipped (already registered as they are), 0 refused`;
  io.stdout(dryRun ? `dry run of ${file}: would be ${counts}; nothing written\n` : `imported ${file}: ${counts}\n`);
}

/**
 * Reports refused lines and exits 2: every refusal on standard output (text or, with --json, the
 * report), and one line on standard error.
 */
function refused(io: CliIO, flags: ImportFlags, file: string, lines: number, refusals: LineRefusal[]): number {
  if (flags.json) {
    io.stdout(JSON.stringify({ file, dryRun: flags["dry-run"] === true, written: false, added: 0, replaced: 0, skipped: 0, refused: refusals.length, lines: refusals.map((r) => ({ ...r, outcome: "refused" })) }) + "\n");
  } else {
    for (const r of refusals) io.stdout(`${file}:${r.line}: ${r.field}: ${r.reason}\n`);
  }
  const first = refusals[0]!;
  io.stderr(`kagiya: ${refusals.length} of ${lines} line(s) of ${file} refused (first: line ${first.line}, ${first.field}); nothing written\n`);
  return 2;
}

/** `kagiya channel export [--json] [--store SPEC]`: the public part of every channel, for audits. */
export const exportChannels: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, {
    store: STORE_FLAG,
    json: { kind: "boolean", help: "one JSON array instead of JSON Lines" },
  });
  if (positionals.length > 0) throw new InvalidInputError("channel export takes no arguments (it writes to standard output)");
  // No master key needed: only public columns are read, nothing is opened.
  const store = await openStore(flags.store, io.env, { cwd: io.cwd, mustExist: true });
  try {
    const rows = (await store.listChannels()).map((r) => ({ id: r.channelId, kind: r.kind, kid: r.kid, settings: r.settings, policy: r.policy, createdAt: r.createdAt }));
    if (flags.json) io.stdout(JSON.stringify(rows) + "\n");
    else io.stdout(rows.map((r) => JSON.stringify(r) + "\n").join(""));
  } finally {
    await store.close();
  }
  return 0;
};
