// The PostgreSQL backend: one class implementing every role (a little over 400 lines, since the
// roles share one pool and transaction helper; schema in ./migrations.ts, SQL in ./statements.ts,
// connecting in ./connect.ts).
import pg from "pg";
import { MicroBatcher } from "../batcher.ts";
import {
  byIssuedDesc,
  channelSealedCells,
  SECRET_COLUMN_PREFIX,
  newOwner,
  redactSpec,
  SEALED_META_PREFIX,
  splitTokenRowKey,
  sqlApiKey,
  sqlAudit,
  sqlChannel,
  sqlGrant,
  sqlNumber,
  sqlToken,
  tokenRowKey,
  type SqlRow,
} from "../common.ts";
import { InboxForwarding } from "../inbox-forwarding.ts";
import type { InboxStore } from "../roles/inbox.ts";
import { StoreError } from "../errors.ts";
import type { ApiKeyRow, AuditRow, ChannelRow, CredentialTokens, CurrentToken, GrantState, GrantWrite, IssueIntent, Lock, Sealed, SealedCell, SharedBackoff, Store, TokenRow, TokenState } from "../types.ts";
import { MIGRATIONS, POSTGRES_SCHEMA_VERSION } from "./migrations.ts";
import { connectPool, postgresFailure } from "./connect.ts";
import { statements, type Statements } from "./statements.ts";
import { PostgresInbox } from "./inbox.ts";

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
export class PostgresStore extends InboxForwarding implements Store {
  readonly kind = "postgres";
  readonly schema: string;
  readonly pool: pg.Pool;
  readonly #where: string;
  readonly #s: string;
  readonly #sql: Statements;
  #markCount = 0;
  /**
   * Marks made in the same tick go to the server as one statement (under load, the marks of many
   * deliveries): one round trip instead of one per event. A batch that fails is retried key by key,
   * so one bad key (or a deadlock) fails only its own mark.
   */
  readonly #marks = new MicroBatcher<{ key: string; ttlMs: number }, boolean>({ run: (marks) => this.#writeMarks(marks) });
  #closed = false;
  /**
   * Reads are batched: calls that arrive while `readBatches` batches are already in flight wait
   * for the next batch, which is one query for all their channels. Every batch is sent after
   * each of its callers called, so a read never returns data older than the call.
   */
  readonly #reads: MicroBatcher<string, CurrentToken>;
  readonly #inbox: PostgresInbox;

  private constructor(pool: pg.Pool, schema: string, where: string, readSlots: number) {
    super();
    this.pool = pool;
    this.#reads = new MicroBatcher({ run: (ids) => this.#readCurrent(ids), maxInFlight: readSlots });
    this.schema = schema;
    this.#where = where;
    this.#s = `"${schema.replace(/"/g, '""')}"`;
    this.#sql = statements(this.#s);
    this.#inbox = new PostgresInbox((what, text, values, name) => this.#q(what, text, values, name), this.#s);
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

  async getMeta(name: string): Promise<string | null> {
    const r = await this.#q("getMeta", `SELECT value FROM ${this.#s}.meta WHERE name = $1`, [name]);
    return (r.rows[0]?.["value"] as string | undefined) ?? null;
  }
  async setMeta(name: string, value: string): Promise<void> {
    await this.#q("setMeta", `INSERT INTO ${this.#s}.meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`, [name, value]);
  }

  async putChannel(row: ChannelRow): Promise<void> {
    const json = (v: object | undefined) => JSON.stringify(v ?? {});
    await this.#q("putChannel", this.#sql.putChannel, [row.channelId, row.kind, row.kid, row.privateKey, row.channelSecret, json(row.policy), json(row.settings), json(row.secrets), row.createdAt, row.updatedAt]);
  }
  async getChannel(channelId: string): Promise<ChannelRow | null> {
    const r = await this.#q("getChannel", `SELECT * FROM ${this.#s}.channels WHERE channel_id = $1`, [channelId]);
    return r.rows[0] ? sqlChannel(r.rows[0]) : null;
  }
  async listChannels(): Promise<ChannelRow[]> {
    return (await this.#q("listChannels", `SELECT * FROM ${this.#s}.channels ORDER BY channel_id COLLATE "C"`)).rows.map(sqlChannel);
  }
  async getChannelVersions(channelIds: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const ids = [...new Set(channelIds)];
    for (let i = 0; i < ids.length; i += 1000) {
      const r = await this.#q("getChannelVersions", `SELECT channel_id, updated_at FROM ${this.#s}.channels WHERE channel_id = ANY($1::text[])`, [ids.slice(i, i + 1000)], "kagiya_channel_versions");
      for (const row of r.rows) out.set(row["channel_id"] as string, sqlNumber(row["updated_at"]));
    }
    return out;
  }
  async listChannelIds(): Promise<string[]> {
    return (await this.#q("listChannelIds", `SELECT channel_id FROM ${this.#s}.channels ORDER BY channel_id COLLATE "C"`)).rows.map((r) => r["channel_id"] as string);
  }
  async deleteChannel(channelId: string): Promise<boolean> {
    const S = this.#s;
    const r = await this.#q(
      "deleteChannel",
      `WITH t AS (DELETE FROM ${S}.tokens WHERE channel_id = $1), c AS (DELETE FROM ${S}.current_tokens WHERE channel_id = $1),
       i AS (DELETE FROM ${S}.issue_intents WHERE credential_id = $1), b AS (DELETE FROM ${S}.backoffs WHERE credential_id = $1),
       g AS (DELETE FROM ${S}.grants WHERE credential_id = $1)
       DELETE FROM ${S}.channels WHERE channel_id = $1`,
      [channelId],
    );
    return (r.rowCount ?? 0) > 0;
  }

  getCurrent(channelId: string): Promise<CurrentToken> {
    return this.#reads.add(channelId);
  }

  async #readCurrent(ids: readonly string[]): Promise<CurrentToken[]> {
    const unique = [...new Set(ids)];
    const r =
      unique.length === 1
        ? await this.#q("getCurrent", this.#sql.getCurrent, unique, "kagiya_get_current")
        : await this.#q("getCurrent", this.#sql.getCurrentMany, [unique], "kagiya_get_current_many");
    const found = new Map<string, CurrentToken>();
    for (const row of r.rows) {
      found.set(row["current_channel_id"] as string, { generation: sqlNumber(row["current_generation"]), token: row["key_id"] == null ? null : sqlToken(row) });
    }
    // Each caller gets its own copy.
    return ids.map((id) => {
      const cur = found.get(id);
      return cur ? { generation: cur.generation, token: cur.token && { ...cur.token } } : { generation: 0, token: null };
    });
  }

  commitToken(channelId: string, expectedGeneration: number, token: TokenRow, supersededRevokeAt: number): Promise<boolean> {
    const S = this.#s;
    return this.#tx("commitToken", async (c) => {
      await c.query(`INSERT INTO ${S}.current_tokens (channel_id, generation, key_id) VALUES ($1, 0, NULL) ON CONFLICT (channel_id) DO NOTHING`, [channelId]);
      const cur = (await c.query(`SELECT generation, key_id FROM ${S}.current_tokens WHERE channel_id = $1 FOR UPDATE`, [channelId])).rows[0];
      if (sqlNumber(cur?.["generation"] ?? 0) !== expectedGeneration) return false;
      const prev = cur?.["key_id"] as string | null;
      if (prev !== null && prev !== token.keyId) {
        await c.query(`UPDATE ${S}.tokens SET state = 'superseded', revoke_at = $1, updated_at = $2 WHERE channel_id = $3 AND key_id = $4 AND state = 'valid'`, [
          supersededRevokeAt,
          token.updatedAt,
          channelId,
          prev,
        ]);
      }
      const generation = expectedGeneration + 1;
      const t = { ...token, channelId, generation };
      await c.query(this.#sql.putToken, [t.channelId, t.keyId, t.accessToken, t.generation, t.state, t.issuedAt, t.expiresAt, t.refreshAt, t.revokeAt, t.updatedAt]);
      await c.query(`UPDATE ${S}.current_tokens SET generation = $1, key_id = $2 WHERE channel_id = $3`, [generation, token.keyId, channelId]);
      return true;
    });
  }

  async putToken(t: TokenRow): Promise<void> {
    await this.#q("putToken", this.#sql.putToken, [t.channelId, t.keyId, t.accessToken, t.generation, t.state, t.issuedAt, t.expiresAt, t.refreshAt, t.revokeAt, t.updatedAt]);
  }
  async listTokens(channelId: string): Promise<TokenRow[]> {
    return (await this.#q("listTokens", `SELECT * FROM ${this.#s}.tokens WHERE channel_id = $1`, [channelId])).rows.map(sqlToken).sort(byIssuedDesc);
  }
  async listTokensMany(channelIds: readonly string[]): Promise<Map<string, CredentialTokens>> {
    const out = new Map<string, CredentialTokens>();
    for (const id of channelIds) out.set(id, { generation: 0, token: null, rows: [] });
    const ids = [...out.keys()];
    // One statement per thousand channels (pointers and rows in one snapshot), not two per channel.
    for (let i = 0; i < ids.length; i += 1000) {
      const r = await this.#q("listTokensMany", this.#sql.listTokensMany, [ids.slice(i, i + 1000)], "kagiya_list_tokens_many");
      for (const row of r.rows) {
        const entry = out.get(row["req_channel_id"] as string)!;
        if (row["cur_generation"] != null) entry.generation = sqlNumber(row["cur_generation"]);
        if (row["key_id"] == null) continue;
        const token = sqlToken(row);
        entry.rows.push(token);
        if (row["cur_key_id"] === token.keyId) entry.token = { ...token };
      }
    }
    for (const entry of out.values()) entry.rows.sort(byIssuedDesc);
    return out;
  }
  async setTokenState(channelId: string, keyId: string, state: TokenState, revokeAt?: number | null, at?: number): Promise<boolean> {
    const updatedAt = at ?? Date.now();
    const r =
      revokeAt === undefined
        ? await this.#q("setTokenState", `UPDATE ${this.#s}.tokens SET state = $1, updated_at = $2 WHERE channel_id = $3 AND key_id = $4`, [state, updatedAt, channelId, keyId])
        : await this.#q("setTokenState", `UPDATE ${this.#s}.tokens SET state = $1, revoke_at = $2, updated_at = $3 WHERE channel_id = $4 AND key_id = $5`, [
            state,
            revokeAt,
            updatedAt,
            channelId,
            keyId,
          ]);
    return (r.rowCount ?? 0) > 0;
  }
  async pruneTokens(channelId: string, before: number): Promise<number> {
    return (await this.#q("pruneTokens", `DELETE FROM ${this.#s}.tokens WHERE channel_id = $1 AND expires_at < $2`, [channelId, before])).rowCount ?? 0;
  }

  async tryLock(name: string, ttlMs: number): Promise<Lock | null> {
    const owner = newOwner();
    const r = await this.#q("tryLock", this.#sql.tryLock, [name, owner, Math.max(1, ttlMs)]);
    if (r.rows[0]?.["owner"] !== owner) return null;
    const release = async () => {
      await this.#q("release a lock", `DELETE FROM ${this.#s}.locks WHERE name = $1 AND owner = $2`, [name, owner]);
    };
    const extend = async (ms: number) => {
      const u = await this.#q("extend a lock", `UPDATE ${this.#s}.locks SET expires_at = clock_timestamp() + $3 * interval '1 millisecond'
        WHERE name = $1 AND owner = $2 AND expires_at > clock_timestamp()`, [name, owner, Math.max(1, ms)]);
      return u.rowCount === 1;
    };
    return { name, owner, release, extend };
  }

  markOnce(key: string, ttlMs: number): Promise<boolean> {
    return this.#marks.add({ key, ttlMs: Math.max(1, ttlMs) });
  }

  #writeMarks(batch: ReadonlyArray<{ key: string; ttlMs: number }>): Array<Promise<boolean>> {
    // One row per key (a second mark of a key in the batch is a duplicate), in key order so that
    // concurrent batches of several instances take row locks in the same order (no deadlock).
    const ttl = new Map<string, number>();
    for (const m of batch) if (!ttl.has(m.key)) ttl.set(m.key, m.ttlMs);
    const keys = [...ttl.keys()].sort();
    const query = keys.length === 1
      ? this.#q("markOnce", this.#sql.markOnce, [keys[0], ttl.get(keys[0]!)], "kagiya_mark_once")
      : this.#q("markOnce", this.#sql.markMany, [keys, keys.map((k) => ttl.get(k))], "kagiya_mark_many");
    const one = (key: string) => this.#q("markOnce", this.#sql.markOnce, [key, ttl.get(key)], "kagiya_mark_once").then((r) => r.rows.length === 1);
    const settled = query.then(
      (r) => {
        const fresh = new Set(r.rows.map((row) => row["key"] as string));
        return new Map(keys.map((k) => [k, Promise.resolve(fresh.has(k))]));
      },
      () => new Map(keys.map((k) => [k, one(k)])),
    );
    // A second mark of a key in this batch is a duplicate of the first.
    const first = new Set<string>();
    const results = batch.map((m) => {
      if (first.has(m.key)) return Promise.resolve(false);
      first.add(m.key);
      return settled.then((byKey) => byKey.get(m.key)!);
    });
    this.#markCount += batch.length;
    if (this.#markCount >= 1000) {
      this.#markCount = 0;
      // Housekeeping only: a failure here loses nothing and must not fail the marks. SKIP LOCKED,
      // so it never waits on (or deadlocks with) rows a batch of marks holds.
      this.#q("markOnce cleanup", `DELETE FROM ${this.#s}.dedup WHERE key IN (SELECT key FROM ${this.#s}.dedup WHERE expires_at <= clock_timestamp() ORDER BY key LIMIT 10000 FOR UPDATE SKIP LOCKED)`).catch(() => {});
    }
    return results;
  }

  async isMarked(key: string): Promise<boolean> {
    const r = await this.#q("isMarked", `SELECT 1 FROM ${this.#s}.dedup WHERE key = $1 AND expires_at > clock_timestamp()`, [key]);
    return r.rows.length === 1;
  }

  protected inboxRole(): InboxStore {
    return this.#inbox;
  }

  async putApiKey(row: ApiKeyRow): Promise<void> {
    await this.#q(
      "putApiKey",
      `INSERT INTO ${this.#s}.api_keys (id, name, hash, channels, created_at, revoked_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, hash = EXCLUDED.hash, channels = EXCLUDED.channels,
       created_at = EXCLUDED.created_at, revoked_at = EXCLUDED.revoked_at, last_used_at = EXCLUDED.last_used_at`,
      [row.id, row.name, row.hash, JSON.stringify(row.channels), row.createdAt, row.revokedAt, row.lastUsedAt],
    );
  }
  async getApiKeyByHash(hash: string): Promise<ApiKeyRow | null> {
    const r = await this.#q("getApiKeyByHash", `SELECT * FROM ${this.#s}.api_keys WHERE hash = $1`, [hash]);
    return r.rows[0] ? sqlApiKey(r.rows[0]) : null;
  }
  async listApiKeys(): Promise<ApiKeyRow[]> {
    return (await this.#q("listApiKeys", `SELECT * FROM ${this.#s}.api_keys ORDER BY created_at, id COLLATE "C"`)).rows.map(sqlApiKey);
  }
  async revokeApiKey(id: string, at: number): Promise<boolean> {
    return ((await this.#q("revokeApiKey", `UPDATE ${this.#s}.api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`, [at, id])).rowCount ?? 0) > 0;
  }
  async touchApiKey(id: string, at: number): Promise<void> {
    await this.#q("touchApiKey", `UPDATE ${this.#s}.api_keys SET last_used_at = $1 WHERE id = $2`, [at, id]);
  }

  async appendAudit(row: AuditRow): Promise<void> {
    await this.#q("appendAudit", `INSERT INTO ${this.#s}.audit (at, action, actor, channel_id, key_id, detail) VALUES ($1, $2, $3, $4, $5, $6)`, [
      row.at,
      row.action,
      row.actor,
      row.channelId,
      row.keyId,
      row.detail,
    ]);
  }
  async listAudit(query: { channelId?: string; limit?: number } = {}): Promise<AuditRow[]> {
    const limit = query.limit ?? null;
    const r =
      query.channelId === undefined
        ? await this.#q("listAudit", `SELECT * FROM ${this.#s}.audit ORDER BY id DESC LIMIT $1`, [limit])
        : await this.#q("listAudit", `SELECT * FROM ${this.#s}.audit WHERE channel_id = $1 ORDER BY id DESC LIMIT $2`, [query.channelId, limit]);
    return r.rows.map(sqlAudit);
  }

  async listSealed(): Promise<SealedCell[]> {
    const S = this.#s;
    const cells: SealedCell[] = [];
    for (const r of (await this.#q("listSealed", `SELECT * FROM ${S}.channels ORDER BY channel_id COLLATE "C"`)).rows) cells.push(...channelSealedCells(sqlChannel(r)));
    for (const r of (await this.#q("listSealed", `SELECT channel_id, key_id, access_token FROM ${S}.tokens WHERE access_token IS NOT NULL`)).rows) {
      cells.push({ table: "tokens", row: tokenRowKey(r["channel_id"] as string, r["key_id"] as string), column: "accessToken", value: r["access_token"] as string });
    }
    for (const r of (await this.#q("listSealed", `SELECT credential_id, secret FROM ${S}.grants ORDER BY credential_id COLLATE "C"`)).rows) {
      cells.push({ table: "grants", row: r["credential_id"] as string, column: "secret", value: r["secret"] as string });
    }
    for (const r of (await this.#q("listSealed", `SELECT name, value FROM ${S}.meta WHERE left(name, $1) = $2`, [SEALED_META_PREFIX.length, SEALED_META_PREFIX])).rows) {
      cells.push({ table: "meta", row: r["name"] as string, column: "value", value: r["value"] as string });
    }
    return cells;
  }

  async replaceSealed(cell: SealedCell, expected: Sealed): Promise<boolean> {
    const S = this.#s;
    let r: pg.QueryResult<SqlRow>;
    if (cell.table === "meta" && cell.column === "value") {
      r = await this.#q("replaceSealed", `UPDATE ${S}.meta SET value = $1 WHERE name = $2 AND value = $3`, [cell.value, cell.row, expected]);
    } else if (cell.table === "channels" && (cell.column === "privateKey" || cell.column === "channelSecret")) {
      const col = cell.column === "privateKey" ? "private_key" : "channel_secret";
      r = await this.#q("replaceSealed", `UPDATE ${S}.channels SET ${col} = $1 WHERE channel_id = $2 AND ${col} = $3`, [cell.value, cell.row, expected]);
    } else if (cell.table === "channels" && cell.column.startsWith(SECRET_COLUMN_PREFIX)) {
      r = await this.#q("replaceSealed", this.#sql.replaceSecret, [cell.row, cell.column.slice(SECRET_COLUMN_PREFIX.length), cell.value, expected]);
    } else if (cell.table === "grants" && cell.column === "secret") {
      r = await this.#q("replaceSealed", `UPDATE ${S}.grants SET secret = $1 WHERE credential_id = $2 AND secret = $3`, [cell.value, cell.row, expected]);
    } else if (cell.table === "tokens" && cell.column === "accessToken") {
      const [channelId, keyId] = splitTokenRowKey(cell.row);
      r = await this.#q("replaceSealed", `UPDATE ${S}.tokens SET access_token = $1 WHERE channel_id = $2 AND key_id = $3 AND access_token = $4`, [cell.value, channelId, keyId, expected]);
    } else return false;
    return (r.rowCount ?? 0) > 0;
  }

  async getIssueIntent(credentialId: string): Promise<IssueIntent | null> {
    const r = (await this.#q("getIssueIntent", `SELECT owner, at FROM ${this.#s}.issue_intents WHERE credential_id = $1`, [credentialId])).rows[0];
    return r ? { owner: r["owner"] as string, at: sqlNumber(r["at"]) } : null;
  }
  async setIssueIntent(credentialId: string, intent: IssueIntent): Promise<void> {
    await this.#q("setIssueIntent", this.#sql.setIntent, [credentialId, intent.owner, intent.at]);
  }
  async clearIssueIntent(credentialId: string, owner?: string): Promise<void> {
    if (owner === undefined) await this.#q("clearIssueIntent", `DELETE FROM ${this.#s}.issue_intents WHERE credential_id = $1`, [credentialId]);
    else await this.#q("clearIssueIntent", `DELETE FROM ${this.#s}.issue_intents WHERE credential_id = $1 AND owner = $2`, [credentialId, owner]);
  }
  async getBackoff(credentialId: string): Promise<SharedBackoff | null> {
    const r = (await this.#q("getBackoff", `SELECT retry_at, code, message FROM ${this.#s}.backoffs WHERE credential_id = $1`, [credentialId])).rows[0];
    return r ? { retryAt: sqlNumber(r["retry_at"]), code: r["code"] as string, message: r["message"] as string } : null;
  }
  async setBackoff(credentialId: string, b: SharedBackoff): Promise<void> {
    await this.#q("setBackoff", this.#sql.setBackoff, [credentialId, b.retryAt, b.code, b.message]);
  }
  async clearBackoff(credentialId: string): Promise<void> {
    await this.#q("clearBackoff", `DELETE FROM ${this.#s}.backoffs WHERE credential_id = $1`, [credentialId]);
  }

  /** Drops this store's schema and everything in it (tests use it to clean up). */
  async getGrant(credentialId: string): Promise<GrantState | null> {
    const r = (await this.#q("getGrant", `SELECT * FROM ${this.#s}.grants WHERE credential_id = $1`, [credentialId])).rows[0];
    return r ? sqlGrant(r) : null;
  }
  async swapGrant(credentialId: string, expectedVersion: number, next: GrantWrite): Promise<number | null> {
    const r =
      expectedVersion === 0
        ? await this.#q("swapGrant", this.#sql.insertGrant, [credentialId, next.secret, next.status, next.updatedAt], "kagiya_insert_grant")
        : await this.#q("swapGrant", this.#sql.updateGrant, [credentialId, next.secret, next.status, next.updatedAt, expectedVersion], "kagiya_update_grant");
    return r.rowCount === 1 ? expectedVersion + 1 : null;
  }

  async destroy(): Promise<void> {
    await this.#q("destroy", `DROP SCHEMA IF EXISTS ${this.#s} CASCADE`);
  }
}
