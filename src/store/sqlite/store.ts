// The SQLite backend: one class implementing every role (~400 lines; schema in ./migrations.ts, file
// opening in ./file.ts).
import { resolve } from "node:path";
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { MicroBatcher } from "../batcher.ts";
import { byIssuedDesc, channelSealedCells, jsonObject, newOwner, SEALED_META_PREFIX, SECRET_COLUMN_PREFIX, splitTokenRowKey, sqlApiKey, sqlAudit, sqlChannel, sqlGrant, sqlToken, tokenRowKey } from "../common.ts";
import { InboxForwarding } from "../inbox-forwarding.ts";
import type { InboxStore } from "../roles/inbox.ts";
import { StoreError, storeFailure } from "../errors.ts";
import type { ApiKeyRow, AuditRow, ChannelRow, CredentialTokens, CurrentToken, GrantState, GrantWrite, IssueIntent, Lock, Sealed, SealedCell, SharedBackoff, Store, TokenRow, TokenState } from "../types.ts";
import { openDatabaseFile } from "./file.ts";
import { SqliteInbox } from "./inbox.ts";
import { MIGRATIONS, SQLITE_SCHEMA_VERSION } from "./migrations.ts";

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

/** Sealed columns a rotation may replace: SealedCell table/column → SQL table/column/key. */
const SEALED_COLUMNS: Record<string, { table: string; column: string }> = {
  "channels.privateKey": { table: "channels", column: "private_key" },
  "channels.channelSecret": { table: "channels", column: "channel_secret" },
  "tokens.accessToken": { table: "tokens", column: "access_token" },
  "grants.secret": { table: "grants", column: "secret" },
  "meta.value": { table: "meta", column: "value" },
};

/** Most webhook marks written in one transaction. */
const MARK_BATCH = 1000;
/**
 * How long marks gather before their transaction: a commit costs ~20 µs of CPU and a mark ~5 µs,
 * so under load a 2 ms window (after the response, so no caller waits on it) is most of the saving.
 */
const MARK_WINDOW_MS = 2;

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
export class SqliteStore extends InboxForwarding implements Store {
  readonly kind = "sqlite";
  /** Absolute path of the database file (or `:memory:`). */
  readonly path: string;
  readonly #now: () => number;
  readonly #db: DatabaseSync;
  readonly #stmts = new Map<string, StatementSync>();
  #markCount = 0;
  /**
   * Marks gather for {@link MARK_WINDOW_MS} and are written together in one transaction: a commit
   * per webhook event (with synchronous=FULL, an fsync per event) would block the event loop.
   */
  readonly #marks = new MicroBatcher<{ key: string; ttlMs: number }, boolean>({ run: (marks) => this.#writeMarks(marks), windowMs: MARK_WINDOW_MS, maxBatch: MARK_BATCH });
  #closed = false;
  readonly #inbox = new SqliteInbox({
    stmt: (sql) => this.#stmt(sql),
    tx: (fn) => this.#tx(fn),
    txWithoutSync: (fn) => this.#txWithoutSync(fn),
    run: (what, fn) => this.#run(what, fn),
    fail: (what, error) => storeFailure("SQLite", what, error),
  });

  constructor(options: SqliteStoreOptions = {}) {
    super();
    const path = options.path ?? "./kagiya.db";
    this.path = path === ":memory:" ? path : resolve(path);
    this.#now = options.now ?? Date.now;
    this.#db = openDatabaseFile(this.path, options.busyTimeoutMs ?? 5_000);
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

  #run<T>(what: string, fn: () => T): Promise<T> {
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

  getMeta(name: string): Promise<string | null> {
    return this.#run("getMeta", () => (this.#stmt("SELECT value FROM meta WHERE name = ?").get(name)?.["value"] as string | undefined) ?? null);
  }
  setMeta(name: string, value: string): Promise<void> {
    return this.#run("setMeta", () => void this.#stmt("INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value").run(name, value));
  }

  putChannel(row: ChannelRow): Promise<void> {
    return this.#run("putChannel", () => {
      this.#stmt(
        `INSERT INTO channels (channel_id, kind, kid, private_key, channel_secret, policy, settings, secrets, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (channel_id) DO UPDATE SET kind = excluded.kind, kid = excluded.kid, private_key = excluded.private_key, channel_secret = excluded.channel_secret,
         policy = excluded.policy, settings = excluded.settings, secrets = excluded.secrets, created_at = excluded.created_at, updated_at = excluded.updated_at`,
      ).run(row.channelId, row.kind, row.kid, row.privateKey, row.channelSecret, JSON.stringify(row.policy ?? {}), JSON.stringify(row.settings ?? {}), JSON.stringify(row.secrets ?? {}), row.createdAt, row.updatedAt);
    });
  }
  getChannel(channelId: string): Promise<ChannelRow | null> {
    return this.#run("getChannel", () => {
      const r = this.#stmt("SELECT * FROM channels WHERE channel_id = ?").get(channelId);
      return r ? sqlChannel(r) : null;
    });
  }
  listChannels(): Promise<ChannelRow[]> {
    return this.#run("listChannels", () => this.#stmt("SELECT * FROM channels ORDER BY channel_id").all().map(sqlChannel));
  }
  getChannelVersions(channelIds: readonly string[]): Promise<Map<string, number>> {
    return this.#run("getChannelVersions", () => {
      const rows = this.#stmt("SELECT channel_id, updated_at FROM channels WHERE channel_id IN (SELECT value FROM json_each(?))").all(JSON.stringify([...new Set(channelIds)]));
      return new Map(rows.map((r) => [r["channel_id"] as string, Number(r["updated_at"])]));
    });
  }
  listChannelIds(): Promise<string[]> {
    return this.#run("listChannelIds", () => this.#stmt("SELECT channel_id FROM channels ORDER BY channel_id").all().map((r) => r["channel_id"] as string));
  }

  deleteChannel(channelId: string): Promise<boolean> {
    return this.#run("deleteChannel", () =>
      this.#tx(() => {
        this.#stmt("DELETE FROM tokens WHERE channel_id = ?").run(channelId);
        this.#stmt("DELETE FROM current_tokens WHERE channel_id = ?").run(channelId);
        this.#stmt("DELETE FROM issue_intents WHERE credential_id = ?").run(channelId);
        this.#stmt("DELETE FROM backoffs WHERE credential_id = ?").run(channelId);
        this.#stmt("DELETE FROM grants WHERE credential_id = ?").run(channelId);
        return Number(this.#stmt("DELETE FROM channels WHERE channel_id = ?").run(channelId).changes) > 0;
      }),
    );
  }

  getCurrent(channelId: string): Promise<CurrentToken> {
    return this.#run("getCurrent", () => {
      const r = this.#stmt(
        `SELECT c.generation AS current_generation, t.* FROM current_tokens c
         LEFT JOIN tokens t ON t.channel_id = c.channel_id AND t.key_id = c.key_id WHERE c.channel_id = ?`,
      ).get(channelId);
      if (!r) return { generation: 0, token: null };
      return { generation: r["current_generation"] as number, token: r["key_id"] == null ? null : sqlToken(r) };
    });
  }

  commitToken(channelId: string, expectedGeneration: number, token: TokenRow, supersededRevokeAt: number): Promise<boolean> {
    return this.#run("commitToken", () =>
      this.#tx(() => {
        const cur = this.#stmt("SELECT generation, key_id FROM current_tokens WHERE channel_id = ?").get(channelId);
        if (((cur?.["generation"] as number | undefined) ?? 0) !== expectedGeneration) return false;
        const prev = cur?.["key_id"] as string | null | undefined;
        if (prev != null && prev !== token.keyId) {
          this.#stmt("UPDATE tokens SET state = 'superseded', revoke_at = ?, updated_at = ? WHERE channel_id = ? AND key_id = ? AND state = 'valid'").run(
            supersededRevokeAt,
            token.updatedAt,
            channelId,
            prev,
          );
        }
        const generation = expectedGeneration + 1;
        this.#putToken({ ...token, channelId, generation });
        this.#stmt(
          "INSERT INTO current_tokens (channel_id, generation, key_id) VALUES (?, ?, ?) ON CONFLICT (channel_id) DO UPDATE SET generation = excluded.generation, key_id = excluded.key_id",
        ).run(channelId, generation, token.keyId);
        return true;
      }),
    );
  }

  #putToken(t: TokenRow): void {
    this.#stmt(
      `INSERT OR REPLACE INTO tokens (channel_id, key_id, access_token, generation, state, issued_at, expires_at, refresh_at, revoke_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(t.channelId, t.keyId, t.accessToken, t.generation, t.state, t.issuedAt, t.expiresAt, t.refreshAt, t.revokeAt, t.updatedAt);
  }

  putToken(token: TokenRow): Promise<void> {
    return this.#run("putToken", () => this.#putToken(token));
  }
  listTokens(channelId: string): Promise<TokenRow[]> {
    return this.#run("listTokens", () => this.#stmt("SELECT * FROM tokens WHERE channel_id = ?").all(channelId).map(sqlToken).sort(byIssuedDesc));
  }
  listTokensMany(channelIds: readonly string[]): Promise<Map<string, CredentialTokens>> {
    return this.#run("listTokensMany", () => {
      const out = new Map<string, CredentialTokens>();
      for (const id of channelIds) out.set(id, { generation: 0, token: null, rows: [] });
      // One statement per kind of row for the whole list (a JSON array parameter), not two per channel.
      const ids = JSON.stringify([...out.keys()]);
      const pointers = new Map<string, string | null>();
      for (const r of this.#stmt("SELECT channel_id, generation, key_id FROM current_tokens WHERE channel_id IN (SELECT value FROM json_each(?))").all(ids)) {
        out.get(r["channel_id"] as string)!.generation = r["generation"] as number;
        pointers.set(r["channel_id"] as string, (r["key_id"] as string | null) ?? null);
      }
      for (const r of this.#stmt("SELECT * FROM tokens WHERE channel_id IN (SELECT value FROM json_each(?))").all(ids)) {
        const row = sqlToken(r);
        const entry = out.get(row.channelId)!;
        entry.rows.push(row);
        if (pointers.get(row.channelId) === row.keyId) entry.token = { ...row };
      }
      for (const entry of out.values()) entry.rows.sort(byIssuedDesc);
      return out;
    });
  }
  setTokenState(channelId: string, keyId: string, state: TokenState, revokeAt?: number | null, at?: number): Promise<boolean> {
    return this.#run("setTokenState", () => {
      const updatedAt = at ?? Date.now();
      const r =
        revokeAt === undefined
          ? this.#stmt("UPDATE tokens SET state = ?, updated_at = ? WHERE channel_id = ? AND key_id = ?").run(state, updatedAt, channelId, keyId)
          : this.#stmt("UPDATE tokens SET state = ?, revoke_at = ?, updated_at = ? WHERE channel_id = ? AND key_id = ?").run(state, revokeAt, updatedAt, channelId, keyId);
      return Number(r.changes) > 0;
    });
  }
  pruneTokens(channelId: string, before: number): Promise<number> {
    return this.#run("pruneTokens", () => Number(this.#stmt("DELETE FROM tokens WHERE channel_id = ? AND expires_at < ?").run(channelId, before).changes));
  }

  tryLock(name: string, ttlMs: number): Promise<Lock | null> {
    return this.#run("tryLock", () => {
      const owner = newOwner();
      const now = this.#now();
      const r = this.#stmt(
        `INSERT INTO locks (name, owner, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at WHERE locks.expires_at <= ?
         RETURNING owner`,
      ).get(name, owner, now + ttlMs, now);
      if (r?.["owner"] !== owner) return null;
      const release = () => this.#run("release a lock", () => void this.#stmt("DELETE FROM locks WHERE name = ? AND owner = ?").run(name, owner));
      const extend = (ms: number) => this.#run("extend a lock", () => {
        const at = this.#now();
        return this.#stmt("UPDATE locks SET expires_at = ? WHERE name = ? AND owner = ? AND expires_at > ?").run(at + ms, name, owner, at).changes === 1;
      });
      return { name, owner, release, extend };
    });
  }

  markOnce(key: string, ttlMs: number): Promise<boolean> {
    if (this.#closed) return Promise.reject(storeFailure("SQLite", "markOnce", new StoreError(`the SQLite store ${this.path} is closed`)));
    return this.#marks.add({ key, ttlMs });
  }

  #writeMarks(batch: ReadonlyArray<{ key: string; ttlMs: number }>): boolean[] {
    try {
      const now = this.#now();
      // `changes` rather than RETURNING: 1 when inserted or an expired mark renewed, 0 when
      // still remembered; no result row to build (a third cheaper per mark).
      const mark = this.#stmt(
        `INSERT INTO dedup (key, expires_at) VALUES (?, ?)
         ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE dedup.expires_at <= ?`,
      );
      // No fsync for marks: a mark lost to a power cut costs at most one event handled twice, and
      // the next FULL commit (any token write) makes these frames durable as well.
      return this.#txWithoutSync(() => {
        const out = batch.map((m) => mark.run(m.key, now + m.ttlMs, now).changes === 1);
        this.#markCount += batch.length;
        if (this.#markCount >= 1000) {
          this.#markCount = 0;
          this.#stmt("DELETE FROM dedup WHERE expires_at <= ?").run(now);
        }
        return out;
      });
    } catch (error) {
      throw storeFailure("SQLite", "markOnce", error);
    }
  }

  isMarked(key: string): Promise<boolean> {
    return this.#run("isMarked", () => this.#stmt("SELECT 1 FROM dedup WHERE key = ? AND expires_at > ?").get(key, this.#now()) !== undefined);
  }

  protected inboxRole(): InboxStore {
    return this.#inbox;
  }

  putApiKey(row: ApiKeyRow): Promise<void> {
    return this.#run("putApiKey", () => {
      this.#stmt(
        `INSERT INTO api_keys (id, name, hash, channels, created_at, revoked_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, hash = excluded.hash, channels = excluded.channels,
         created_at = excluded.created_at, revoked_at = excluded.revoked_at, last_used_at = excluded.last_used_at`,
      ).run(row.id, row.name, row.hash, JSON.stringify(row.channels), row.createdAt, row.revokedAt, row.lastUsedAt);
    });
  }
  getApiKeyByHash(hash: string): Promise<ApiKeyRow | null> {
    return this.#run("getApiKeyByHash", () => {
      const r = this.#stmt("SELECT * FROM api_keys WHERE hash = ?").get(hash);
      return r ? sqlApiKey(r) : null;
    });
  }
  listApiKeys(): Promise<ApiKeyRow[]> {
    return this.#run("listApiKeys", () => this.#stmt("SELECT * FROM api_keys ORDER BY created_at, id").all().map(sqlApiKey));
  }
  revokeApiKey(id: string, at: number): Promise<boolean> {
    return this.#run("revokeApiKey", () => Number(this.#stmt("UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?").run(at, id).changes) > 0);
  }
  touchApiKey(id: string, at: number): Promise<void> {
    return this.#run("touchApiKey", () => void this.#stmt("UPDATE api_keys SET last_used_at = ? WHERE id = ?").run(at, id));
  }

  appendAudit(row: AuditRow): Promise<void> {
    return this.#run("appendAudit", () => {
      this.#stmt("INSERT INTO audit (at, action, actor, channel_id, key_id, detail) VALUES (?, ?, ?, ?, ?, ?)").run(
        row.at,
        row.action,
        row.actor,
        row.channelId,
        row.keyId,
        row.detail,
      );
    });
  }
  listAudit(query: { channelId?: string; limit?: number } = {}): Promise<AuditRow[]> {
    return this.#run("listAudit", () => {
      const limit = query.limit ?? -1;
      const rows =
        query.channelId === undefined
          ? this.#stmt("SELECT * FROM audit ORDER BY id DESC LIMIT ?").all(limit)
          : this.#stmt("SELECT * FROM audit WHERE channel_id = ? ORDER BY id DESC LIMIT ?").all(query.channelId, limit);
      return rows.map(sqlAudit);
    });
  }

  listSealed(): Promise<SealedCell[]> {
    return this.#run("listSealed", () => {
      const cells: SealedCell[] = [];
      for (const r of this.#stmt("SELECT * FROM channels ORDER BY channel_id").all()) cells.push(...channelSealedCells(sqlChannel(r)));
      for (const r of this.#stmt("SELECT channel_id, key_id, access_token FROM tokens WHERE access_token IS NOT NULL").all()) {
        cells.push({ table: "tokens", row: tokenRowKey(r["channel_id"] as string, r["key_id"] as string), column: "accessToken", value: r["access_token"] as string });
      }
      for (const r of this.#stmt("SELECT credential_id, secret FROM grants ORDER BY credential_id").all()) {
        cells.push({ table: "grants", row: r["credential_id"] as string, column: "secret", value: r["secret"] as string });
      }
      for (const r of this.#stmt("SELECT name, value FROM meta WHERE substr(name, 1, ?) = ?").all(SEALED_META_PREFIX.length, SEALED_META_PREFIX)) {
        cells.push({ table: "meta", row: r["name"] as string, column: "value", value: r["value"] as string });
      }
      return cells;
    });
  }

  replaceSealed(cell: SealedCell, expected: Sealed): Promise<boolean> {
    return this.#run("replaceSealed", () => {
      if (cell.table === "channels" && cell.column.startsWith(SECRET_COLUMN_PREFIX)) {
        const name = cell.column.slice(SECRET_COLUMN_PREFIX.length);
        return this.#tx(() => {
          const secrets = jsonObject<Record<string, Sealed>>(this.#stmt("SELECT secrets FROM channels WHERE channel_id = ?").get(cell.row)?.["secrets"]);
          if (secrets[name] !== expected) return false;
          secrets[name] = cell.value;
          this.#stmt("UPDATE channels SET secrets = ? WHERE channel_id = ?").run(JSON.stringify(secrets), cell.row);
          return true;
        });
      }
      const target = SEALED_COLUMNS[`${cell.table}.${cell.column}`];
      if (!target) return false;
      let r;
      if (cell.table === "tokens") {
        const [channelId, keyId] = splitTokenRowKey(cell.row);
        r = this.#stmt(`UPDATE tokens SET ${target.column} = ? WHERE channel_id = ? AND key_id = ? AND ${target.column} = ?`).run(cell.value, channelId, keyId, expected);
      } else {
        const key = cell.table === "channels" ? "channel_id" : cell.table === "grants" ? "credential_id" : "name";
        r = this.#stmt(`UPDATE ${target.table} SET ${target.column} = ? WHERE ${key} = ? AND ${target.column} = ?`).run(cell.value, cell.row, expected);
      }
      return Number(r.changes) > 0;
    });
  }

  getIssueIntent(credentialId: string): Promise<IssueIntent | null> {
    return this.#run("getIssueIntent", () => {
      const r = this.#stmt("SELECT owner, at FROM issue_intents WHERE credential_id = ?").get(credentialId);
      return r ? { owner: r["owner"] as string, at: r["at"] as number } : null;
    });
  }
  setIssueIntent(credentialId: string, intent: IssueIntent): Promise<void> {
    return this.#run("setIssueIntent", () => void this.#stmt("INSERT OR REPLACE INTO issue_intents (credential_id, owner, at) VALUES (?, ?, ?)").run(credentialId, intent.owner, intent.at));
  }
  clearIssueIntent(credentialId: string, owner?: string): Promise<void> {
    return this.#run("clearIssueIntent", () => {
      if (owner === undefined) this.#stmt("DELETE FROM issue_intents WHERE credential_id = ?").run(credentialId);
      else this.#stmt("DELETE FROM issue_intents WHERE credential_id = ? AND owner = ?").run(credentialId, owner);
    });
  }
  getBackoff(credentialId: string): Promise<SharedBackoff | null> {
    return this.#run("getBackoff", () => {
      const r = this.#stmt("SELECT retry_at, code, message FROM backoffs WHERE credential_id = ?").get(credentialId);
      return r ? { retryAt: r["retry_at"] as number, code: r["code"] as string, message: r["message"] as string } : null;
    });
  }
  setBackoff(credentialId: string, b: SharedBackoff): Promise<void> {
    return this.#run("setBackoff", () => void this.#stmt("INSERT OR REPLACE INTO backoffs (credential_id, retry_at, code, message) VALUES (?, ?, ?, ?)").run(credentialId, b.retryAt, b.code, b.message));
  }
  clearBackoff(credentialId: string): Promise<void> {
    return this.#run("clearBackoff", () => void this.#stmt("DELETE FROM backoffs WHERE credential_id = ?").run(credentialId));
  }

  getGrant(credentialId: string): Promise<GrantState | null> {
    return this.#run("getGrant", () => {
      const r = this.#stmt("SELECT * FROM grants WHERE credential_id = ?").get(credentialId);
      return r ? sqlGrant(r) : null;
    });
  }
  swapGrant(credentialId: string, expectedVersion: number, next: GrantWrite): Promise<number | null> {
    return this.#run("swapGrant", () => {
      // One statement either way, so the compare and the set are one step.
      const r =
        expectedVersion === 0
          ? this.#stmt("INSERT INTO grants (credential_id, secret, version, status, updated_at) VALUES (?, ?, 1, ?, ?) ON CONFLICT (credential_id) DO NOTHING").run(credentialId, next.secret, next.status, next.updatedAt)
          : this.#stmt("UPDATE grants SET secret = ?, version = version + 1, status = ?, updated_at = ? WHERE credential_id = ? AND version = ?").run(next.secret, next.status, next.updatedAt, credentialId, expectedVersion);
      return Number(r.changes) === 1 ? expectedVersion + 1 : null;
    });
  }
}
