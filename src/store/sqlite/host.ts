// What the SQLite store's role objects (./credentials.ts, ./tokens.ts, …) need of the store.
import type { StatementSync } from "node:sqlite";

/** Prepared statements, transactions and failure mapping over the store's one database. */
export interface SqliteHost {
  /** The statement for `sql`, prepared once. */
  stmt(sql: string): StatementSync;
  /** Runs `fn` inside BEGIN IMMEDIATE … COMMIT (rolled back when it throws). */
  tx<T>(fn: () => T): T;
  /** The same without an fsync of its own (`synchronous = NORMAL`), for writes a power cut may undo. */
  txWithoutSync<T>(fn: () => T): T;
  /** Rejects with the store's failure when it is closed or `fn` throws (a promise `fn` returns is passed on). */
  run<T>(what: string, fn: () => T | Promise<T>): Promise<T>;
  /** The store's failure for an error thrown by `what`. */
  fail(what: string, error: unknown): Error;
  /** Clock for lock and once-mark expiry, epoch ms. */
  now(): number;
}
