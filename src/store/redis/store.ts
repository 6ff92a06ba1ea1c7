// The Redis backend: one class implementing every role (key layout in ./layout.ts, Lua in
// ./scripts.ts, hash codec in ./codec.ts).
import type { Redis } from "ioredis";
import { MicroBatcher } from "../batcher.ts";
import { byIssuedDesc, channelSealedCells, LEGACY_BACKOFF_META, LEGACY_INTENT_META, newOwner, redactSpec, SEALED_META_PREFIX, SECRET_COLUMN_PREFIX, splitTokenRowKey, tokenRowKey } from "../common.ts";
import { InboxForwarding } from "../inbox-forwarding.ts";
import type { InboxStore } from "../roles/inbox.ts";
import { StoreError } from "../errors.ts";
import type { ApiKeyRow, AuditRow, ChannelRow, CredentialTokens, CurrentToken, GrantState, GrantWrite, IssueIntent, Lock, Sealed, SealedCell, SharedBackoff, Store, TokenRow, TokenState } from "../types.ts";
import { channelFields, num, pairsToHash, toApiKey, toChannel, toToken, tokenFields } from "./codec.ts";
import { REDIS_LAYOUT_VERSION, RedisKeys } from "./layout.ts";
import * as lua from "./scripts.ts";
import { RedisInbox, UPGRADE_LAYOUT_3 } from "./inbox.ts";
import { RedisGrants, UPGRADE_LAYOUT_4 } from "./grants.ts";
import { connectClient } from "./client.ts";

export { REDIS_LAYOUT_VERSION };

/** Options of {@link RedisStore.connect}. */
export interface RedisStoreOptions {
  /**
   * `redis://` or `rediss://` URL, or `redis+sentinel://HOST:PORT[,HOST:PORT…]/MASTER[/DB]` for a
   * master found through Redis Sentinel (default `REDIS_URL`, else redis://127.0.0.1:6379).
   */
  url?: string;
  /** Prefix of every key (default `kagiya:`); tests use a random one. */
  prefix?: string;
  /** Connect timeout, ms (default 2000). */
  connectTimeoutMs?: number;
  /** Per-command timeout, ms (default 5000). */
  commandTimeoutMs?: number;
  /** For a `redis+sentinel://` URL: the sentinels' own ACL user, when they require one. */
  sentinelUsername?: string;
  /** For a `redis+sentinel://` URL: the sentinels' own password, when they require one. */
  sentinelPassword?: string;
}

/** Server answers that mean "not the writable master right now" (a failover, a replica still loading). */
const TRANSIENT = /READONLY|LOADING|MASTERDOWN|TRYAGAIN/;

/**
 * A {@link Store} on Redis (ioredis), shared by every process that uses the same server and key
 * prefix. Atomic steps (commitToken's compare-and-set on the generation, lock release by owner,
 * pruning) are Lua scripts; locks and markOnce are `SET NX PX`. Every key begins with the
 * prefix; the key layout is versioned (`<prefix>layout`) and documented in ./layout.ts. Redis Cluster is not supported (the
 * scripts touch keys they derive).
 *
 * Connecting fails fast with `ERR_STORE_UNAVAILABLE` (connect timeout, no retry on the first
 * connection); later, commands fail at once while the connection is down (no offline queue) and
 * the client reconnects in the background.
 *
 * Behind Redis Sentinel (`redis+sentinel://`), the client asks the sentinels for the master,
 * follows a failover (the sentinels' `+switch-master`, or a `READONLY` answer from a demoted master)
 * and reconnects to the new master; commands sent meanwhile fail with `ERR_STORE_UNAVAILABLE`.
 *
 * @example
 * ```ts
 * const store = await RedisStore.connect({ url: "redis://127.0.0.1:6379", prefix: "kagiya:" });
 * await store.migrate();
 * ```
 */
export class RedisStore extends InboxForwarding implements Store {
  readonly kind = "redis";
  readonly prefix: string;
  readonly client: Redis;
  readonly #where: string;
  readonly #keys: RedisKeys;
  readonly #inbox: RedisInbox;
  readonly #grants: RedisGrants;
  #closing = false;
  /** Current-token reads made close together go as one pipeline (the token API's re-checks). */
  readonly #reads = new MicroBatcher<string, CurrentToken>({ run: (ids) => this.#readCurrent(ids), maxInFlight: 2, maxBatch: 500 });

  private constructor(client: Redis, prefix: string, where: string) {
    super();
    this.client = client;
    this.prefix = prefix;
    this.#where = where;
    this.#keys = new RedisKeys(prefix);
    this.#inbox = new RedisInbox(client, this.#keys, (what, fn) => this.#do(what, fn));
    this.#grants = new RedisGrants(client, this.#keys, (what, fn) => this.#do(what, fn));
  }

  /** Connects (fails within the connect timeout when the server is unreachable). */
  static async connect(options: RedisStoreOptions = {}): Promise<RedisStore> {
    const url = options.url ?? process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379";
    const where = redactSpec(url);
    let store: RedisStore | undefined;
    const client = await connectClient(url, where, options, () => store !== undefined && store.#closing);
    store = new RedisStore(client, options.prefix ?? "kagiya:", where);
    return store;
  }

  async #do<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof StoreError) throw error;
      const message = String((error as Error).message);
      const down = this.client.status !== "ready" || /Connection is closed|Stream isn't writeable|timed out|ECONN|ETIMEDOUT/i.test(message) || TRANSIENT.test(message);
      throw new StoreError(
        down ? `Redis at ${this.#where} is unavailable (${what}): ${(error as Error).message.split("\n")[0]}` : `Redis store: ${what} failed: ${(error as Error).message.split("\n")[0]}`,
        { code: down ? "ERR_STORE_UNAVAILABLE" : "ERR_STORE", cause: error },
      );
    }
  }

  #k(s: string): string {
    return this.#keys.k(s);
  }
  #tokBase(channelId: string): string {
    return this.#keys.tokBase(channelId);
  }
  #tokIds(channelId: string): string {
    return this.#keys.tokIds(channelId);
  }

  migrate(): Promise<void> {
    return this.#do("migrate", async () => {
      await this.client.set(this.#k("layout"), String(REDIS_LAYOUT_VERSION), "NX");
      const v = Number(await this.client.get(this.#k("layout")));
      if (v > REDIS_LAYOUT_VERSION) {
        throw new StoreError(`the Redis store at ${this.#where} (prefix ${this.prefix}) has key layout ${v}, newer than this kagiya (${REDIS_LAYOUT_VERSION}): upgrade kagiya`, { code: "ERR_STORE_SCHEMA" });
      }
      if (v < REDIS_LAYOUT_VERSION) {
        // Each upgrade step is one atomic script guarded by the version it starts from.
        await lua.UPGRADE_LAYOUT_2.run(this.client, [this.#k("layout"), this.#k("meta")], [this.prefix, "2", LEGACY_INTENT_META, LEGACY_BACKOFF_META]);
        await UPGRADE_LAYOUT_3.run(this.client, [this.#k("layout")], []);
        await UPGRADE_LAYOUT_4.run(this.client, [this.#k("layout")], []);
      }
    });
  }

  ping(): Promise<void> {
    return this.#do("ping", async () => void (await this.client.ping()));
  }

  async close(): Promise<void> {
    this.#closing = true;
    if (this.client.status === "end") return;
    try {
      await this.client.quit();
    } catch {
      // disconnect() below
    }
    // After quit(), also ends what quit() leaves open: behind Sentinel, the failover detector's subscriptions.
    this.client.disconnect();
  }

  getMeta(name: string): Promise<string | null> {
    return this.#do("getMeta", () => this.client.hget(this.#k("meta"), name));
  }
  setMeta(name: string, value: string): Promise<void> {
    return this.#do("setMeta", async () => void (await this.client.hset(this.#k("meta"), name, value)));
  }

  putChannel(row: ChannelRow): Promise<void> {
    return this.#do("putChannel", async () => {
      const key = this.#k(`ch:${row.channelId}`);
      await this.client
        .multi()
        .del(key)
        .hset(key, channelFields(row))
        .sadd(this.#k("chids"), row.channelId)
        .exec();
    });
  }
  getChannel(channelId: string): Promise<ChannelRow | null> {
    return this.#do("getChannel", async () => {
      const h = await this.client.hgetall(this.#k(`ch:${channelId}`));
      return h["channelId"] === undefined ? null : toChannel(h);
    });
  }
  listChannels(): Promise<ChannelRow[]> {
    return this.#do("listChannels", async () => {
      const ids = (await this.client.smembers(this.#k("chids"))).sort();
      const rows = await Promise.all(ids.map((id) => this.client.hgetall(this.#k(`ch:${id}`))));
      return rows.filter((h) => h["channelId"] !== undefined).map(toChannel);
    });
  }
  getChannelVersions(channelIds: readonly string[]): Promise<Map<string, number>> {
    return this.#do("getChannelVersions", async () => {
      const ids = [...new Set(channelIds)];
      const out = new Map<string, number>();
      if (ids.length === 0) return out;
      // One pipeline: a field per channel, never the sealed ones.
      const p = this.client.pipeline();
      for (const id of ids) p.hget(this.#k(`ch:${id}`), "updatedAt");
      const answers = (await p.exec()) ?? [];
      answers.forEach(([error, v], i) => {
        if (error) throw error;
        if (typeof v === "string") out.set(ids[i]!, Number(v));
      });
      return out;
    });
  }
  listChannelIds(): Promise<string[]> {
    return this.#do("listChannelIds", async () => (await this.client.smembers(this.#k("chids"))).sort());
  }
  deleteChannel(channelId: string): Promise<boolean> {
    return this.#do("deleteChannel", async () => {
      const keys = [this.#k("chids"), this.#k(`ch:${channelId}`), this.#k(`cur:${channelId}`), this.#tokIds(channelId), this.#k("tokch"), this.#keys.intent(channelId), this.#keys.backoff(channelId), this.#keys.grant(channelId), this.#keys.grantIds()];
      return (await lua.DELETE_CHANNEL.run(this.client, keys, [this.#tokBase(channelId), channelId])) === 1;
    });
  }

  getCurrent(channelId: string): Promise<CurrentToken> {
    return this.#do("getCurrent", () => this.#reads.add(channelId));
  }
  async #currentOne(channelId: string): Promise<CurrentToken> {
    return decodeCurrent(await lua.GET_CURRENT.run(this.client, [this.#k(`cur:${channelId}`)], [this.#tokBase(channelId)]));
  }
  async #readCurrent(ids: readonly string[]): Promise<Array<CurrentToken | Promise<CurrentToken>>> {
    if (ids.length === 1) return [this.#currentOne(ids[0]!)];
    const p = this.client.pipeline();
    for (const id of ids) p.evalsha(lua.GET_CURRENT.sha, 1, this.#k(`cur:${id}`), this.#tokBase(id));
    const answers = (await p.exec()) ?? [];
    // An item that failed (NOSCRIPT after a server restart, or anything else) is read again alone.
    return ids.map((id, i) => {
      const [error, r] = answers[i] ?? [new Error("no answer"), null];
      return error ? this.#currentOne(id) : decodeCurrent(r);
    });
  }

  commitToken(channelId: string, expectedGeneration: number, token: TokenRow, supersededRevokeAt: number): Promise<boolean> {
    return this.#do("commitToken", async () => {
      const row = { ...token, channelId, generation: expectedGeneration + 1 };
      const keys = [this.#k(`cur:${channelId}`), this.#tokIds(channelId), this.#k("tokch")];
      const args = [this.#tokBase(channelId), String(expectedGeneration), token.keyId, String(supersededRevokeAt), String(token.updatedAt), channelId, ...tokenFields(row)];
      return (await lua.COMMIT_TOKEN.run(this.client, keys, args)) === 1;
    });
  }

  putToken(token: TokenRow): Promise<void> {
    return this.#do("putToken", async () => {
      const key = this.#tokBase(token.channelId) + token.keyId;
      await this.client
        .multi()
        .del(key)
        .hset(key, ...tokenFields(token))
        .sadd(this.#tokIds(token.channelId), token.keyId)
        .sadd(this.#k("tokch"), token.channelId)
        .exec();
    });
  }
  listTokens(channelId: string): Promise<TokenRow[]> {
    return this.#do("listTokens", async () => {
      const ids = await this.client.smembers(this.#tokIds(channelId));
      const base = this.#tokBase(channelId);
      const rows = await Promise.all(ids.map((id) => this.client.hgetall(base + id)));
      return rows.filter((h) => h["keyId"] !== undefined).map(toToken).sort(byIssuedDesc);
    });
  }
  listTokensMany(channelIds: readonly string[]): Promise<Map<string, CredentialTokens>> {
    return this.#do("listTokensMany", async () => {
      const out = new Map<string, CredentialTokens>();
      const ids = [...new Set(channelIds)];
      // One script per 200 channels: a few round trips, each short enough not to hold up the server.
      const chunks: string[][] = [];
      for (let i = 0; i < ids.length; i += 200) chunks.push(ids.slice(i, i + 200));
      const answers = await Promise.all(chunks.map((chunk) => lua.LIST_TOKENS_MANY.run(this.client, [], [this.prefix, ...chunk.flatMap((id) => [id, this.#tokBase(id)])]) as Promise<Array<[string, string, string[][]]>>));
      answers.forEach((answer, c) => answer.forEach(([gen, key, flats], j) => {
        const rows = flats.map((flat) => toToken(pairsToHash(flat))).sort(byIssuedDesc);
        const current = key === "" ? undefined : rows.find((r) => r.keyId === key);
        out.set(chunks[c]![j]!, { generation: Number(gen), token: current ? { ...current } : null, rows });
      }));
      return out;
    });
  }
  setTokenState(channelId: string, keyId: string, state: TokenState, revokeAt?: number | null, at?: number): Promise<boolean> {
    return this.#do("setTokenState", async () => {
      const mode = revokeAt === undefined ? "keep" : revokeAt === null ? "null" : "set";
      const r = await lua.SET_TOKEN_STATE.run(this.client, [this.#tokBase(channelId) + keyId], [state, mode, String(revokeAt ?? ""), String(at ?? Date.now())]);
      return r === 1;
    });
  }
  pruneTokens(channelId: string, before: number): Promise<number> {
    return this.#do("pruneTokens", async () => Number(await lua.PRUNE_TOKENS.run(this.client, [this.#tokIds(channelId)], [this.#tokBase(channelId), String(before)])));
  }

  tryLock(name: string, ttlMs: number): Promise<Lock | null> {
    return this.#do("tryLock", async () => {
      const owner = newOwner();
      const key = this.#k(`lock:${name}`);
      const ok = await this.client.set(key, owner, "PX", Math.max(1, Math.ceil(ttlMs)), "NX");
      if (ok !== "OK") return null;
      const release = () => this.#do("release a lock", async () => void (await lua.RELEASE_LOCK.run(this.client, [key], [owner])));
      const extend = (ms: number) => this.#do("extend a lock", async () => (await lua.EXTEND_LOCK.run(this.client, [key], [owner, String(Math.max(1, Math.ceil(ms)))])) === 1);
      return { name, owner, release, extend };
    });
  }

  markOnce(key: string, ttlMs: number): Promise<boolean> {
    return this.#do("markOnce", async () => (await this.client.set(this.#k(`once:${key}`), "1", "PX", Math.max(1, Math.ceil(ttlMs)), "NX")) === "OK");
  }

  isMarked(key: string): Promise<boolean> {
    return this.#do("isMarked", async () => (await this.client.exists(this.#k(`once:${key}`))) === 1);
  }

  protected inboxRole(): InboxStore {
    return this.#inbox;
  }

  putApiKey(row: ApiKeyRow): Promise<void> {
    return this.#do("putApiKey", async () => {
      const fields = ["id", row.id, "name", row.name, "hash", row.hash, "channels", JSON.stringify(row.channels), "createdAt", String(row.createdAt)];
      if (row.revokedAt !== null) fields.push("revokedAt", String(row.revokedAt));
      if (row.lastUsedAt !== null) fields.push("lastUsedAt", String(row.lastUsedAt));
      await lua.PUT_API_KEY.run(this.client, [this.#k(`ak:${row.id}`), this.#k("akids"), this.#k("akhash")], [row.id, row.hash, ...fields]);
    });
  }
  getApiKeyByHash(hash: string): Promise<ApiKeyRow | null> {
    return this.#do("getApiKeyByHash", async () => {
      const flat = (await lua.API_KEY_BY_HASH.run(this.client, [this.#k("akhash")], [hash, this.#k("ak:")])) as string[];
      return flat.length === 0 ? null : toApiKey(pairsToHash(flat));
    });
  }
  listApiKeys(): Promise<ApiKeyRow[]> {
    return this.#do("listApiKeys", async () => {
      const ids = await this.client.smembers(this.#k("akids"));
      const rows = await Promise.all(ids.map((id) => this.client.hgetall(this.#k(`ak:${id}`))));
      return rows
        .filter((h) => h["id"] !== undefined)
        .map(toApiKey)
        .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    });
  }
  revokeApiKey(id: string, at: number): Promise<boolean> {
    return this.#do("revokeApiKey", async () => (await lua.SET_IF_EXISTS.run(this.client, [this.#k(`ak:${id}`)], ["revokedAt", String(at), "1"])) === 1);
  }
  touchApiKey(id: string, at: number): Promise<void> {
    return this.#do("touchApiKey", async () => void (await lua.SET_IF_EXISTS.run(this.client, [this.#k(`ak:${id}`)], ["lastUsedAt", String(at), "0"])));
  }

  appendAudit(row: AuditRow): Promise<void> {
    return this.#do("appendAudit", async () => {
      const { id: _ignored, ...rest } = row;
      const keys = [this.#k("audit:seq"), this.#k("audit:rows"), this.#k("audit")];
      if (row.channelId !== null) keys.push(this.#k(`audit:ch:${row.channelId}`));
      await lua.APPEND_AUDIT.run(this.client, keys, [JSON.stringify(rest)]);
    });
  }
  listAudit(query: { channelId?: string; limit?: number } = {}): Promise<AuditRow[]> {
    return this.#do("listAudit", async () => {
      const list = query.channelId === undefined ? this.#k("audit") : this.#k(`audit:ch:${query.channelId}`);
      const stop = query.limit === undefined ? -1 : query.limit - 1;
      if (stop < -1) return [];
      const ids = await this.client.lrange(list, 0, stop);
      if (ids.length === 0) return [];
      const rows = await this.client.hmget(this.#k("audit:rows"), ...ids);
      const out: AuditRow[] = [];
      rows.forEach((json, i) => {
        if (json !== null) out.push({ id: Number(ids[i]), ...(JSON.parse(json) as Omit<AuditRow, "id">) });
      });
      return out;
    });
  }

  listSealed(): Promise<SealedCell[]> {
    return this.#do("listSealed", async () => {
      const cells: SealedCell[] = [];
      for (const id of (await this.client.smembers(this.#k("chids"))).sort()) {
        const h = await this.client.hgetall(this.#k(`ch:${id}`));
        if (h["channelId"] !== undefined) cells.push(...channelSealedCells(toChannel(h)));
      }
      for (const ch of await this.client.smembers(this.#k("tokch"))) {
        for (const keyId of await this.client.smembers(this.#tokIds(ch))) {
          const v = await this.client.hget(this.#tokBase(ch) + keyId, "accessToken");
          if (v != null) cells.push({ table: "tokens", row: tokenRowKey(ch, keyId), column: "accessToken", value: v });
        }
      }
      for (const [id, value] of await this.#grants.sealedSecrets()) cells.push({ table: "grants", row: id, column: "secret", value });
      const meta = await this.client.hgetall(this.#k("meta"));
      for (const [name, value] of Object.entries(meta)) {
        if (name.startsWith(SEALED_META_PREFIX)) cells.push({ table: "meta", row: name, column: "value", value });
      }
      return cells;
    });
  }

  replaceSealed(cell: SealedCell, expected: Sealed): Promise<boolean> {
    return this.#do("replaceSealed", async () => {
      let key: string;
      if (cell.table === "meta" && cell.column === "value") key = this.#k("meta");
      else if (cell.table === "channels" && (cell.column === "privateKey" || cell.column === "channelSecret" || cell.column.startsWith(SECRET_COLUMN_PREFIX))) key = this.#k(`ch:${cell.row}`);
      else if (cell.table === "tokens" && cell.column === "accessToken") {
        const [ch, keyId] = splitTokenRowKey(cell.row);
        key = this.#tokBase(ch) + keyId;
      } else if (cell.table === "grants" && cell.column === "secret") key = this.#keys.grant(cell.row);
      else return false;
      const field = cell.table === "meta" ? cell.row : cell.column;
      return (await lua.REPLACE_FIELD.run(this.client, [key], [field, expected, cell.value])) === 1;
    });
  }

  getIssueIntent(credentialId: string): Promise<IssueIntent | null> {
    return this.#do("getIssueIntent", async () => {
      const h = await this.client.hgetall(this.#keys.intent(credentialId));
      return h["owner"] === undefined ? null : { owner: h["owner"], at: num(h["at"]) };
    });
  }
  setIssueIntent(credentialId: string, intent: IssueIntent): Promise<void> {
    return this.#do("setIssueIntent", async () => {
      const key = this.#keys.intent(credentialId);
      await this.client.multi().del(key).hset(key, { owner: intent.owner, at: String(intent.at) }).exec();
    });
  }
  clearIssueIntent(credentialId: string, owner?: string): Promise<void> {
    return this.#do("clearIssueIntent", async () => {
      const key = this.#keys.intent(credentialId);
      if (owner === undefined) await this.client.del(key);
      else await lua.CLEAR_INTENT_OF.run(this.client, [key], [owner]);
    });
  }
  getBackoff(credentialId: string): Promise<SharedBackoff | null> {
    return this.#do("getBackoff", async () => {
      const h = await this.client.hgetall(this.#keys.backoff(credentialId));
      return h["code"] === undefined ? null : { retryAt: num(h["retryAt"]), code: h["code"], message: h["message"] ?? "" };
    });
  }
  setBackoff(credentialId: string, b: SharedBackoff): Promise<void> {
    return this.#do("setBackoff", async () => {
      const key = this.#keys.backoff(credentialId);
      await this.client.multi().del(key).hset(key, { retryAt: String(b.retryAt), code: b.code, message: b.message }).exec();
    });
  }
  clearBackoff(credentialId: string): Promise<void> {
    return this.#do("clearBackoff", async () => void (await this.client.del(this.#keys.backoff(credentialId))));
  }

  getGrant(credentialId: string): Promise<GrantState | null> {
    return this.#grants.getGrant(credentialId);
  }
  swapGrant(credentialId: string, expectedVersion: number, next: GrantWrite): Promise<number | null> {
    return this.#grants.swapGrant(credentialId, expectedVersion, next);
  }

  /** Deletes every key under this store's prefix (tests use it to clean up). */
  destroy(): Promise<void> {
    return this.#do("destroy", async () => {
      let cursor = "0";
      do {
        const [next, keys] = await this.client.scan(cursor, "MATCH", `${this.prefix.replace(/[*?[\]\\]/g, "\\$&")}*`, "COUNT", 500);
        cursor = next;
        if (keys.length > 0) await this.client.del(...keys);
      } while (cursor !== "0");
    });
  }
}

function decodeCurrent(answer: unknown): CurrentToken {
  const r = answer as [string, string[]?];
  const flat = r[1];
  return { generation: Number(r[0]), token: flat && flat.length > 0 ? toToken(pairsToHash(flat)) : null };
}
