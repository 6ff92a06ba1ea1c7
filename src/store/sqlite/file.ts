// Opening the SQLite store's file: created owner-only by kagiya, never an empty file someone else left.
import { closeSync, existsSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { isDiskFull, StoreError, storeFull } from "../errors.ts";

/**
 * Opens (creating it mode 0600 when absent) the database at `path` (absolute, or `:memory:`) in
 * WAL mode with synchronous=FULL and a busy timeout. Throws StoreError `ERR_STORE_NOT_KAGIYA` for
 * an existing empty file, `ERR_STORE_FULL` when the disk has no room for it, and
 * `ERR_STORE_UNAVAILABLE` when the file cannot be opened.
 */
export function openDatabaseFile(path: string, timeoutMs: number): DatabaseSync {
  if (path !== ":memory:" && existsSync(path) && statSync(path).isFile() && statSync(path).size === 0 && !existsSync(`${path}-wal`)) {
    // SQLite would take an empty file for a new database: a typo'd path, a truncated copy or a
    // file someone else made must not become a store with a new master-key check. Files kagiya
    // creates are never empty once opened (WAL mode writes the header at once).
    throw new StoreError(`${path} is an empty file, not a kagiya store: name the right file with --store or KAGIYA_DB, or delete it to start a new store`, { code: "ERR_STORE_NOT_KAGIYA" });
  }
  try {
    if (path !== ":memory:" && !existsSync(path)) {
      // Create the file owner-only before SQLite does; its -wal and -shm files copy the mode.
      closeSync(openSync(path, "a", 0o600));
    }
    const db = new DatabaseSync(path, { timeout: timeoutMs });
    db.exec(`PRAGMA busy_timeout = ${timeoutMs | 0}; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;`);
    return db;
  } catch (error) {
    if (isDiskFull(error)) throw storeFull("SQLite", `open ${path}`, error);
    const hint = existsSync(dirname(path)) ? "" : ` (directory ${dirname(path)} does not exist)`;
    throw new StoreError(`cannot open the SQLite store ${path}${hint}: ${(error as Error).message}`, { code: "ERR_STORE_UNAVAILABLE", cause: error });
  }
}
