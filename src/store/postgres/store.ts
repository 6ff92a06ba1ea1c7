// The PostgreSQL backend: the store's lifecycle (connecting, migrating, closing) and the pool and
// transaction helper it shares with its role objects, one per role (./credentials.ts,
// ./tokens.ts, ./locks.ts, ./marks.ts, ./inbox.ts, ./apikeys.ts, ./audit.ts, ./settings.ts,
// ./coordination.ts, ./grants.ts); schema in ./migrations.ts, SQL in ./statements.ts, connecting
// in ./connect.ts.
import pg from "pg";
import { redactSpec, sqlNumber, type SqlRow } from "../common.ts";
import { StoreError } from "../errors.ts";
import { RoleForwarding, type StoreRoles } from "../role-forwarding.ts";
import type { Store } from "../types.ts";
import { PostgresApiKeys } from "./apikeys.ts";
import { PostgresAudit } from "./audit.ts";
import { connectPool, postgresFailure } from "./connect.ts";
import { PostgresCoordination } from "./coordination.ts";
import { PostgresCredentials } from "./credentials.ts";
import { PostgresGrants } from "./grants.ts";
import type { PostgresHost } from "./host.ts";
import { PostgresInbox } from "./inbox.ts";
import { PostgresLocks } from "./locks.ts";
import { PostgresMarks } from "./marks.ts";
import { MIGRATIONS, POSTGRES_SCHEMA_VERSION } from "./migrations.ts";
import { PostgresSettings } from "./settings.ts";
import { statements } from "./statements.ts";
import { PostgresTokens } from "./tokens.ts";

export { POSTGRES_SCHEMA_VERSION };

/** Options of {@link PostgresStore.connect}. */
export interface PostgresStoreOptions {
  /** `postgres://` URL (default `DATABASE_URL`). */
  url?: string;
  /** Schema holding kagiya's tables (default `kagiya`); tests use a random one. */
  schema?: string;
  /** Connect timeout, ms (default 3000). */
  connectTimeoutMs?: number;
  /** Pool size (default 10). */
  poolSize?: number;
  /** Server-side limit of one statement and of an idle open transaction, ms (default 15000). */
  statementTimeoutMs?: number;
  /** getCurrent batches in flight at once; later reads join the next batch (default 2). */
  readBatches?: number;
}

/**
 * A {@link Store} on PostgreSQL (pg), shared by every process using the same database and schema.
 * commitToken is one transaction that locks the channel's generation row (`SELECT … FOR
 * UPDATE`); locks and markOnce are rows with an expiry judged by the server's clock, taken with
 * one conditional `INSERT … ON CONFLICT … WHERE expired`. The hot read (getCurrent) is one
 * prepared statement. Migrations are versioned in `<schema>.schema_version` and serialized across
 * processes with an advisory lock.
 *
 * @example
 * ```ts
 * const store = await PostgresStore.connect({ url: "postgres://postgres@127.0.0.1:5432/test", schema: "kagiya" });
 * await store.migrate();
 * ```
 */
export class PostgresStore extends RoleForwarding implements Store {
  readonly kind = "postgres";
  readonly schema: string;
  readonly pool: pg.Pool;
  readonly #where: string;
  readonly #s: string;
  #closed = false;
  protected readonly roles: StoreRoles;

  private constructor(pool: pg.Pool, schema: string, where: string, readSlots: number) {
    super();
    this.pool = pool;
    this.schema = schema;
    this.#where = where;
    this.#s = `"${schema.replace(/"/g, '""')}"`;
    const host: PostgresHost = { q: (what, text, values, name) => this.#q(what, text, values, name), tx: (what, fn) => this.#tx(what, fn), s: this.#s, sql: statements(this.#s) };
    this.roles = {
      credentials: new PostgresCredentials(host),
      tokens: new PostgresTokens(host, readSlots),
      locks: new PostgresLocks(host),
      marks: new PostgresMarks(host),
      inbox: new PostgresInbox(host),
      apiKeys: new PostgresApiKeys(host),
      audit: new PostgresAudit(host),
      settings: new PostgresSettings(host),
      coordination: new PostgresCoordination(host),
      grants: new PostgresGrants(host),
    };
  }

  /** Connects and checks the server answers (fails within the connect timeout when it does not). */
  static async connect(options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const url = options.url ?? process.env["DATABASE_URL"];
    if (!url) throw new StoreError("no PostgreSQL URL: set DATABASE_URL or pass postgres://USER@HOST:PORT/DB", { code: "ERR_STORE_UNAVAILABLE" });
    const where = redactSpec(url);
    const schema = options.schema ?? "kagiya";
    const pool = await connectPool(url, where, options);
    return new PostgresStore(pool, schema, where, Math.max(1, Math.min(options.readBatches ?? 2, options.poolSize ?? 10)));
  }

  #fail(what: string, error: unknown): StoreError {
    return postgresFailure(this.#where, this.#closed, what, error);
  }

  async #q(what: string, text: string, values: unknown[] = [], name?: string): Promise<pg.QueryResult<SqlRow>> {
    try {
      return await this.pool.query<SqlRow>(name ? { name, text, values } : { text, values });
    } catch (error) {
      throw this.#fail(what, error);
    }
  }

  /** Runs `fn` in a transaction on one pooled client. */
  async #tx<T>(what: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw this.#fail(what, error);
    }
    // A checked-out client whose connection dies (a server restart mid-transaction) emits 'error'
    // besides failing its query; with no listener that would end the process. The query's own
    // failure is what the caller gets.
    let broken: Error | undefined;
    const onError = (error: Error): void => void (broken = error);
    client.on("error", onError);
    try {
      await client.query("BEGIN");
      const out = await fn(client);
      await client.query("COMMIT");
      return out;
    } catch (error) {
      if (broken === undefined) await client.query("ROLLBACK").catch(() => {});
      throw this.#fail(what, error);
    } finally {
      client.off("error", onError);
      // A broken connection is dropped from the pool rather than handed out again.
      client.release(broken);
    }
  }

  async migrate(): Promise<void> {
    const S = this.#s;
    for (const m of MIGRATIONS) {
      await this.#tx("migrate", async (c) => {
        // Serializes migrations of this schema across processes.
        await c.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`kagiya-migrate:${this.schema}`]);
        await c.query(`CREATE SCHEMA IF NOT EXISTS ${S}`);
        await c.query(`CREATE TABLE IF NOT EXISTS ${S}.schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
        const current = sqlNumber((await c.query(`SELECT coalesce(max(version), 0) AS v FROM ${S}.schema_version`)).rows[0]?.["v"] ?? 0);
        if (current > POSTGRES_SCHEMA_VERSION) {
          throw new StoreError(`the PostgreSQL schema ${this.schema} at ${this.#where} has version ${current}, newer than this kagiya (${POSTGRES_SCHEMA_VERSION}): upgrade kagiya`, { code: "ERR_STORE_SCHEMA" });
        }
        if (current >= m.version) return;
        await c.query(m.sql.replaceAll("S.", `${S}.`));
        await m.after?.(c, S);
        await c.query(`INSERT INTO ${S}.schema_version (version) VALUES ($1)`, [m.version]);
      });
    }
  }

  /** The schema version recorded (0 before the first migrate). */
  async schemaVersion(): Promise<number> {
    const r = await this.#q("read the schema version", "SELECT to_regclass($1) AS t", [`${this.#s}.schema_version`]);
    if (r.rows[0]?.["t"] == null) return 0;
    return sqlNumber((await this.#q("read the schema version", `SELECT coalesce(max(version), 0) AS v FROM ${this.#s}.schema_version`)).rows[0]?.["v"]);
  }

  async ping(): Promise<void> {
    await this.#q("ping", "SELECT 1");
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.pool.end().catch(() => {});
  }

  /** Drops this store's schema and everything in it (tests use it to clean up). */
  async destroy(): Promise<void> {
    await this.#q("destroy", `DROP SCHEMA IF EXISTS ${this.#s} CASCADE`);
  }
}
