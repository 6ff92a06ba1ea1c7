// The SQLite backend: the store's lifecycle (opening, migrating, closing) and the database it
// shares with its role objects, one per role (./credentials.ts, ./tokens.ts, ./locks.ts,
// ./marks.ts, ./inbox.ts, ./apikeys.ts, ./audit.ts, ./settings.ts, ./coordination.ts,
// ./grants.ts); schema in ./migrations.ts, file opening in ./file.ts.
import { resolve } from "node:path";
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { StoreError, storeFailure } from "../errors.ts";
import { RoleForwarding, type StoreRoles } from "../role-forwarding.ts";
import type { Store } from "../types.ts";
import { SqliteApiKeys } from "./apikeys.ts";
import { SqliteAudit } from "./audit.ts";
import { SqliteCoordination } from "./coordination.ts";
import { SqliteCredentials } from "./credentials.ts";
import { openDatabaseFile } from "./file.ts";
import { SqliteGrants } from "./grants.ts";
import type { SqliteHost } from "./host.ts";
import { SqliteInbox } from "./inbox.ts";
import { SqliteLocks } from "./locks.ts";
import { SqliteMarks } from "./marks.ts";
import { MIGRATIONS, SQLITE_SCHEMA_VERSION } from "./migrations.ts";
import { SqliteSettings } from "./settings.ts";
import { SqliteTokens } from "./tokens.ts";

export { SQLITE_SCHEMA_VERSION };

/** Options of {@link SqliteStore}. */
export interface SqliteStoreOptions {
  /** Database file (default `./kagiya.db`); `:memory:` for a private in-memory database. */
  path?: string;
  /** How long to wait for another process's write lock, ms (default 5000). */
  busyTimeoutMs?: number;
  /** Clock for lock and markOnce expiry, epoch ms (default Date.now). */
  now?: () => number;
}

/**
 * The embedded default {@link Store}: one SQLite file through `node:sqlite`, in WAL mode with
 * `synchronous=FULL` (a committed token survives power loss) and a busy timeout, so several
 * processes on one host can share the file. Statements are prepared once.
 *
 * @example
 * ```ts
 * const store = new SqliteStore({ path: "./kagiya.db" });
 * await store.migrate();
 * const { generation, token } = await store.getCurrent("1234567890");
 * ```
 */
export class SqliteStore extends RoleForwarding implements Store {
  readonly kind = "sqlite";
  /** Absolute path of the database file (or `:memory:`). */
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #stmts = new Map<string, StatementSync>();
  #closed = false;
  readonly #marks: SqliteMarks;
  readonly #inbox: SqliteInbox;
  protected readonly roles: StoreRoles;

  constructor(options: SqliteStoreOptions = {}) {
    super();
    const path = options.path ?? "./kagiya.db";
    this.path = path === ":memory:" ? path : resolve(path);
    this.#db = openDatabaseFile(this.path, options.busyTimeoutMs ?? 5_000);
    const host: SqliteHost = {
      stmt: (sql) => this.#stmt(sql),
      tx: (fn) => this.#tx(fn),
      txWithoutSync: (fn) => this.#txWithoutSync(fn),
      run: (what, fn) => this.#run(what, fn),
      fail: (what, error) => storeFailure("SQLite", what, error),
      now: options.now ?? Date.now,
    };
    this.#marks = new SqliteMarks(host);
    this.#inbox = new SqliteInbox(host);
    this.roles = {
      credentials: new SqliteCredentials(host),
      tokens: new SqliteTokens(host),
      locks: new SqliteLocks(host),
      marks: this.#marks,
      inbox: this.#inbox,
      apiKeys: new SqliteApiKeys(host),
      audit: new SqliteAudit(host),
      settings: new SqliteSettings(host),
      coordination: new SqliteCoordination(host),
      grants: new SqliteGrants(host),
    };
  }

  #stmt(sql: string): StatementSync {
    let s = this.#stmts.get(sql);
    if (!s) this.#stmts.set(sql, (s = this.#db.prepare(sql)));
    return s;
  }

  /** Runs `fn` inside BEGIN IMMEDIATE … COMMIT (rolled back when it throws). */
  #tx<T>(fn: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const out = fn();
      this.#db.exec("COMMIT");
      return out;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  /** {@link #tx} with `synchronous = NORMAL`: committed without an fsync of its own (for writes a power cut may undo). */
  #txWithoutSync<T>(fn: () => T): T {
    this.#db.exec("PRAGMA synchronous = NORMAL");
    try {
      return this.#tx(fn);
    } finally {
      this.#db.exec("PRAGMA synchronous = FULL");
    }
  }

  #run<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
    try {
      if (this.#closed) throw new StoreError(`the SQLite store ${this.path} is closed`);
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(storeFailure("SQLite", what, error));
    }
  }

  migrate(): Promise<void> {
    return this.#run("migrate", () => {
      // An up-to-date file is only read: a process starting next to others that write all the time
      // (a serve restarted beside a busy one) must not queue for the write lock it does not need.
      const found = this.#readVersion();
      if (found > SQLITE_SCHEMA_VERSION) {
        throw new StoreError(`the SQLite store ${this.path} has schema version ${found}, newer than this kagiya (${SQLITE_SCHEMA_VERSION}): upgrade kagiya`, { code: "ERR_STORE_SCHEMA" });
      }
      if (found === SQLITE_SCHEMA_VERSION) return;
      this.#db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
      for (const m of MIGRATIONS) {
        this.#tx(() => {
          const current = (this.#db.prepare("SELECT max(version) AS v FROM schema_version").get()?.["v"] as number | null) ?? 0;
          if (current > SQLITE_SCHEMA_VERSION) {
            throw new StoreError(`the SQLite store ${this.path} has schema version ${current}, newer than this kagiya (${SQLITE_SCHEMA_VERSION}): upgrade kagiya`, { code: "ERR_STORE_SCHEMA" });
          }
          if (current >= m.version) return;
          this.#db.exec(m.sql);
          m.after?.(this.#db);
          this.#db.prepare("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)").run(m.version, Date.now());
        });
      }
    });
  }

  /** The schema version recorded in the file (0 before the first migrate). */
  schemaVersion(): Promise<number> {
    return this.#run("read the schema version", () => this.#readVersion());
  }

  #readVersion(): number {
    const has = this.#db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").get();
    if (!has) return 0;
    return (this.#db.prepare("SELECT max(version) AS v FROM schema_version").get()?.["v"] as number | null) ?? 0;
  }

  ping(): Promise<void> {
    return this.#run("ping", () => void this.#stmt("SELECT 1").get());
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#marks.flush();
    this.#inbox.flush();
    this.#closed = true;
    this.#stmts.clear();
    this.#db.close();
  }
}
