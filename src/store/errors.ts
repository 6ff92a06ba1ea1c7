import { KagiyaError } from "../core/errors.ts";

/**
 * A storage backend failed: unreachable (`ERR_STORE_UNAVAILABLE`), out of disk space, so the
 * write was not made (`ERR_STORE_FULL`), a schema newer than this kagiya (`ERR_STORE_SCHEMA`), a
 * SQLite file that is empty, not a kagiya store (`ERR_STORE_NOT_KAGIYA`), or any other backend
 * failure (`ERR_STORE`). Messages name the backend and the address without credentials.
 *
 * @example
 * ```ts
 * try { await store.ping(); }
 * catch (e) { if (e instanceof StoreError && e.code === "ERR_STORE_UNAVAILABLE") console.error(e.message); }
 * ```
 */
export class StoreError extends KagiyaError {
  constructor(message: string, options?: { code?: string; cause?: unknown }) {
    super(options?.code ?? "ERR_STORE", message, options);
  }
}

/**
 * The master key is missing (`ERR_MASTER_KEY_MISSING`), malformed (`ERR_MASTER_KEY_INVALID`),
 * in a file others can read (`ERR_MASTER_KEY_FILE_PERMISSIONS`), or not the key the store was
 * sealed with (`ERR_MASTER_KEY_MISMATCH`). Never carries key material.
 *
 * @example
 * ```ts
 * try { loadMasterKey(process.env); }
 * catch (e) { if (e instanceof MasterKeyError && e.code === "ERR_MASTER_KEY_MISSING") console.error(e.message); }
 * ```
 */
export class MasterKeyError extends KagiyaError {}

/**
 * A sealed value that does not open: malformed, tampered with, or copied from another row or
 * column (`ERR_SEALED_CORRUPT`). The stored value is left untouched.
 *
 * @example
 * ```ts
 * try { sealer.open(value, { table: "channels", row: "1234567890", column: "channelSecret" }); }
 * catch (e) { if (e instanceof SealedValueError) console.error(e.message); }
 * ```
 */
export class SealedValueError extends KagiyaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_SEALED_CORRUPT", message, options);
  }
}

/**
 * The channel is not registered (`ERR_CHANNEL_NOT_FOUND`).
 *
 * @example
 * ```ts
 * const ch = await registry.require("1234567890"); // throws ChannelNotFoundError when absent
 * ```
 */
export class ChannelNotFoundError extends KagiyaError {
  readonly channelId: string;
  constructor(channelId: string) {
    super("ERR_CHANNEL_NOT_FOUND", `channel ${channelId} is not registered (add it with: kagiya channel add --id ${channelId} ...)`);
    this.channelId = channelId;
  }
}

/**
 * True when a driver error says the disk is full: SQLite's `SQLITE_FULL` (result code 13, extended
 * codes included), PostgreSQL's `disk_full` (SQLSTATE 53100), or the system's `ENOSPC`.
 */
export function isDiskFull(error: unknown): boolean {
  const e = error as { code?: unknown; errcode?: unknown; message?: unknown } | null;
  if (e === null || typeof e !== "object") return false;
  if (typeof e.errcode === "number" && (e.errcode & 0xff) === 13) return true;
  return e.code === "53100" || e.code === "ENOSPC" || /No space left on device/.test(String(e.message));
}

/** The one-line StoreError `ERR_STORE_FULL` for a write the full disk refused (the write was not made). */
export function storeFull(backend: string, what: string, error: unknown): StoreError {
  return new StoreError(`${backend} store: ${what} failed: the disk is full, nothing was written; free space where the store keeps its data, then try again`, { code: "ERR_STORE_FULL", cause: error });
}

/** Turns whatever a driver threw into a one-line StoreError; StoreErrors pass through. */
export function storeFailure(backend: string, what: string, error: unknown): KagiyaError {
  if (error instanceof KagiyaError) return error;
  if (isDiskFull(error)) return storeFull(backend, what, error);
  const detail = error instanceof Error ? error.message.split("\n")[0] : String(error);
  return new StoreError(`${backend} store: ${what} failed: ${detail}`, { cause: error });
}
