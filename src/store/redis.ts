import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { byIssuedDesc, newOwner, redactSpec, SEALED_META_PREFIX, splitTokenRowKey, tokenRowKey } from "./common.ts";
import { StoreError } from "./errors.ts";
import type { ApiKeyRow, AuditRow, ChannelRow, CurrentToken, Lock, Sealed, SealedCell, Store, TokenRow, TokenState } from "./types.ts";

/** Options of {@link RedisStore.connect}. */
export interface RedisStoreOptions {
  /** `redis://` or `rediss://` URL (default `REDIS_URL`, else redis://127.0.0.1:6379). */
  url?: string;
  /** Prefix of every key (default `kagiya:`); tests use a random one. */
  prefix?: string;
  /** Connect timeout, ms (default 2000). */
  connectTimeoutMs?: number;
  /** Per-command timeout, ms (default 5000). */
  commandTimeoutMs?: number;
}

/** Key-layout version this code writes (stored at `<prefix>layout`). */
export const REDIS_LAYOUT_VERSION = 1;

/** A Lua script run with EVALSHA, falling back to EVAL once when the server does not know it. */
class Script {
  readonly lua: string;
  readonly sha: string;
  constructor(lua: string) {
    this.lua = lua;
    this.sha = createHash("sha1").update(lua).digest("hex");
  }
  async run(client: Redis, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!String((error as Error).message).startsWith("NOSCRIPT")) throw error;
      return client.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}

const GET_CURRENT = new Script(`
local c = redis.call('HMGET', KEYS[1], 'gen', 'key')
if not c[1] then return {'0'} end
if not c[2] then return {c[1]} end
return {c[1], redis.call('HGETALL', ARGV[1] .. c[2])}`);

// KEYS: cur, tokids, tokch. ARGV: tokbase, expected, keyId, supersededRevokeAt, updatedAt, channelId, field/value...
const COMMIT_TOKEN = new Script(`
local gen = tonumber(redis.call('HGET', KEYS[1], 'gen') or '0')
if gen ~= tonumber(ARGV[2]) then return 0 end
local prev = redis.call('HGET', KEYS[1], 'key')
if prev and prev ~= ARGV[3] then
  local pk = ARGV[1] .. prev
  if redis.call('HGET', pk, 'state') == 'valid' then
    redis.call('HSET', pk, 'state', 'superseded', 'revokeAt', ARGV[4], 'updatedAt', ARGV[5])
  end
end
local tk = ARGV[1] .. ARGV[3]
redis.call('DEL', tk)
redis.call('HSET', tk, unpack(ARGV, 7))
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[6])
redis.call('HSET', KEYS[1], 'gen', tostring(gen + 1), 'key', ARGV[3])
return 1`);

// KEYS: tok. ARGV: state, mode (keep|set|null), revokeAt, updatedAt
const SET_TOKEN_STATE = new Script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'updatedAt', ARGV[4])
if ARGV[2] == 'set' then redis.call('HSET', KEYS[1], 'revokeAt', ARGV[3])
elseif ARGV[2] == 'null' then redis.call('HDEL', KEYS[1], 'revokeAt') end
return 1`);

// KEYS: tokids. ARGV: tokbase, before
const PRUNE_TOKENS = new Script(`
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local e = redis.call('HGET', ARGV[1] .. id, 'expiresAt')
  if (not e) or tonumber(e) < tonumber(ARGV[2]) then
    redis.call('DEL', ARGV[1] .. id)
    redis.call('SREM', KEYS[1], id)
    if e then n = n + 1 end
  end
end
return n`);

// KEYS: chids, ch, cur, tokids, tokch. ARGV: tokbase, channelId
const DELETE_CHANNEL = new Script(`
for _, id in ipairs(redis.call('SMEMBERS', KEYS[4])) do redis.call('DEL', ARGV[1] .. id) end
redis.call('DEL', KEYS[3], KEYS[4])
redis.call('SREM', KEYS[5], ARGV[2])
redis.call('SREM', KEYS[1], ARGV[2])
return redis.call('DEL', KEYS[2])`);

// KEYS: any hash. ARGV: field, expected, new
const REPLACE_FIELD = new Script(`
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1`);

const RELEASE_LOCK = new Script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

// KEYS: lock. ARGV: owner, ttl ms.
const EXTEND_LOCK = new Script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`);

// KEYS: ak, akids, akhash. ARGV: id, hash, field/value...
const PUT_API_KEY = new Script(`
local old = redis.call('HGET', KEYS[1], 'hash')
if old and old ~= ARGV[2] then redis.call('HDEL', KEYS[3], old) end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[1])
return 1`);

// KEYS: akhash. ARGV: hash, akbase
const API_KEY_BY_HASH = new Script(`
local id = redis.call('HGET', KEYS[1], ARGV[1])
if not id then return {} end
return redis.call('HGETALL', ARGV[2] .. id)`);

// KEYS: ak. ARGV: field, value, onlyIfUnset (1|0)
const SET_IF_EXISTS = new Script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[3] == '1' then redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1`);

// KEYS: seq, rows, list[, chlist]. ARGV: json
const APPEND_AUDIT = new Script(`
local id = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], id, ARGV[1])
redis.call('LPUSH', KEYS[3], id)
if KEYS[4] then redis.call('LPUSH', KEYS[4], id) end
return id`);

type Hash = Record<string, string>;

function pairsToHash(flat: unknown): Hash {
  const out: Hash = {};
  const a = flat as string[];
  for (let i = 0; i + 1 < a.length; i += 2) out[a[i]!] = a[i + 1]!;
  return out;
}

function num(v: string | undefined): number {
  return v === undefined ? 0 : Number(v);
}
function numOrNull(v: string | undefined): number | null {
  return v === undefined || v === "" ? null : Number(v);
}

function tokenFields(t: TokenRow): string[] {
  const f = ["channelId", t.channelId, "keyId", t.keyId, "generation", String(t.generation), "state", t.state, "issuedAt", String(t.issuedAt)];
  f.push("expiresAt", String(t.expiresAt), "refreshAt", String(t.refreshAt), "updatedAt", String(t.updatedAt));
  if (t.accessToken !== null) f.push("accessToken", t.accessToken);
  if (t.revokeAt !== null) f.push("revokeAt", String(t.revokeAt));
  return f;
}

function toToken(h: Hash): TokenRow {
  return {
    channelId: h["channelId"]!,
    keyId: h["keyId"]!,
    accessToken: h["accessToken"] ?? null,
    generation: num(h["generation"]),
    state: h["state"] as TokenState,
    issuedAt: num(h["issuedAt"]),
    expiresAt: num(h["expiresAt"]),
    refreshAt: num(h["refreshAt"]),
    revokeAt: numOrNull(h["revokeAt"]),
    updatedAt: num(h["updatedAt"]),
  };
}

function toChannel(h: Hash): ChannelRow {
  return {
    channelId: h["channelId"]!,
    kid: h["kid"]!,
    privateKey: h["privateKey"]!,
    channelSecret: h["channelSecret"]!,
    policy: JSON.parse(h["policy"] ?? "{}"),
    createdAt: num(h["createdAt"]),
    updatedAt: num(h["updatedAt"]),
  };
}

function toApiKey(h: Hash): ApiKeyRow {
  return {
    id: h["id"]!,
    name: h["name"]!,
    hash: h["hash"]!,
    channels: JSON.parse(h["channels"] ?? "[]"),
    createdAt: num(h["createdAt"]),
    revokedAt: numOrNull(h["revokedAt"]),
    lastUsedAt: numOrNull(h["lastUsedAt"]),
  };
}


/**
 * A {@link Store} on Redis (ioredis), shared by every process that uses the same server and key
 * prefix. Atomic steps (commitToken's compare-and-set on the generation, lock release by owner,
 * pruning) are Lua scripts; locks and markOnce are `SET NX PX`. Every key begins with the
 * prefix; the key layout is versioned (`<prefix>layout`). Redis Cluster is not supported (the
 * scripts touch keys they derive).
 *
 * Connecting fails fast with `ERR_STORE_UNAVAILABLE` (connect timeout, no retry on the first
 * connection); later, commands fail at once while the connection is down (no offline queue) and
 * the client reconnects in the background.
 *
 * @example
 * ```ts
 * const store = await RedisStore.connect({ url: "redis://127.0.0.1:6379", prefix: "kagiya:" });
 * await store.migrate();
 * ```
 */
export class RedisStore implements Store {
  readonly kind = "redis";
  readonly prefix: string;
  readonly client: Redis;
  readonly #where: string;

  private constructor(client: Redis, prefix: string, where: string) {
    this.client = client;
    this.prefix = prefix;
    this.#where = where;
  }

  /** Connects (fails within the connect timeout when the server is unreachable). */
  static async connect(options: RedisStoreOptions = {}): Promise<RedisStore> {
    const url = options.url ?? process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379";
    const where = redactSpec(url);
    let everReady = false;
    let lastError: Error | undefined;
    const client = new Redis(url, {
      lazyConnect: true,
      connectTimeout: options.connectTimeoutMs ?? 2_000,
      commandTimeout: options.commandTimeoutMs ?? 5_000,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      // Never retry the first connection (fail fast); afterwards reconnect with a capped backoff.
      retryStrategy: (times) => (everReady ? Math.min(100 * 2 ** Math.min(times, 5), 2_000) : null),
    });
    client.on("error", (e: Error) => (lastError = e));
    client.on("ready", () => (everReady = true));
    try {
      await client.connect();
    } catch (error) {
      client.disconnect();
      const e = (lastError ?? error) as Error & { code?: string };
      const auth = /NOAUTH|WRONGPASS|invalid password|invalid username/i.test(e.message);
      const hint = auth ? "check the user and password in the URL" : "is the server running? check REDIS_URL";
      throw new StoreError(`cannot reach Redis at ${where}: ${auth ? e.message.split("\n")[0] : (e.code ?? e.message)} (${hint})`, { code: "ERR_STORE_UNAVAILABLE", cause: error });
    }
    return new RedisStore(client, options.prefix ?? "kagiya:", where);
  }

  async #do<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof StoreError) throw error;
      const down = this.client.status !== "ready" || /Connection is closed|Stream isn't writeable|timed out|ECONN|ETIMEDOUT/i.test(String((error as Error).message));
      throw new StoreError(
        down ? `Redis at ${this.#where} is unavailable (${what}): ${(error as Error).message.split("\n")[0]}` : `Redis store: ${what} failed: ${(error as Error).message.split("\n")[0]}`,
        { code: down ? "ERR_STORE_UNAVAILABLE" : "ERR_STORE", cause: error },
      );
    }
  }

  // --- key names ---
  #k(s: string): string {
    return this.prefix + s;
  }
  #tokBase(channelId: string): string {
    // Length-prefixed so no (channel, keyId) pair collides with another.
    return `${this.prefix}tok:${channelId.length}:${channelId}:`;
  }
  #tokIds(channelId: string): string {
    return `${this.prefix}tokids:${channelId}`;
  }

  migrate(): Promise<void> {
    return this.#do("migrate", async () => {
      await this.client.set(this.#k("layout"), String(REDIS_LAYOUT_VERSION), "NX");
      const v = Number(await this.client.get(this.#k("layout")));
      if (v > REDIS_LAYOUT_VERSION) {
        throw new StoreError(`the Redis store at ${this.#where} (prefix ${this.prefix}) has key layout ${v}, newer than this kagiya (${REDIS_LAYOUT_VERSION}): upgrade kagiya`, { code: "ERR_STORE_SCHEMA" });
      }
      // Layout 1 is the first; later layouts add their upgrade steps here, each guarded by the version.
    });
  }

  ping(): Promise<void> {
    return this.#do("ping", async () => void (await this.client.ping()));
  }

  async close(): Promise<void> {
    if (this.client.status === "end") return;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
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
        .hset(key, {
          channelId: row.channelId,
          kid: row.kid,
          privateKey: row.privateKey,
          channelSecret: row.channelSecret,
          policy: JSON.stringify(row.policy ?? {}),
          createdAt: String(row.createdAt),
          updatedAt: String(row.updatedAt),
        })
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
  deleteChannel(channelId: string): Promise<boolean> {
    return this.#do("deleteChannel", async () => {
      const keys = [this.#k("chids"), this.#k(`ch:${channelId}`), this.#k(`cur:${channelId}`), this.#tokIds(channelId), this.#k("tokch")];
      return (await DELETE_CHANNEL.run(this.client, keys, [this.#tokBase(channelId), channelId])) === 1;
    });
  }

  getCurrent(channelId: string): Promise<CurrentToken> {
    return this.#do("getCurrent", async () => {
      const r = (await GET_CURRENT.run(this.client, [this.#k(`cur:${channelId}`)], [this.#tokBase(channelId)])) as [string, string[]?];
      const generation = Number(r[0]);
      const flat = r[1];
      return { generation, token: flat && flat.length > 0 ? toToken(pairsToHash(flat)) : null };
    });
  }

  commitToken(channelId: string, expectedGeneration: number, token: TokenRow, supersededRevokeAt: number): Promise<boolean> {
    return this.#do("commitToken", async () => {
      const row = { ...token, channelId, generation: expectedGeneration + 1 };
      const keys = [this.#k(`cur:${channelId}`), this.#tokIds(channelId), this.#k("tokch")];
      const args = [this.#tokBase(channelId), String(expectedGeneration), token.keyId, String(supersededRevokeAt), String(token.updatedAt), channelId, ...tokenFields(row)];
      return (await COMMIT_TOKEN.run(this.client, keys, args)) === 1;
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
  setTokenState(channelId: string, keyId: string, state: TokenState, revokeAt?: number | null): Promise<boolean> {
    return this.#do("setTokenState", async () => {
      const mode = revokeAt === undefined ? "keep" : revokeAt === null ? "null" : "set";
      const r = await SET_TOKEN_STATE.run(this.client, [this.#tokBase(channelId) + keyId], [state, mode, String(revokeAt ?? ""), String(Date.now())]);
      return r === 1;
    });
  }
  pruneTokens(channelId: string, before: number): Promise<number> {
    return this.#do("pruneTokens", async () => Number(await PRUNE_TOKENS.run(this.client, [this.#tokIds(channelId)], [this.#tokBase(channelId), String(before)])));
  }

  tryLock(name: string, ttlMs: number): Promise<Lock | null> {
    return this.#do("tryLock", async () => {
      const owner = newOwner();
      const key = this.#k(`lock:${name}`);
      const ok = await this.client.set(key, owner, "PX", Math.max(1, Math.ceil(ttlMs)), "NX");
      if (ok !== "OK") return null;
      const release = () => this.#do("release a lock", async () => void (await RELEASE_LOCK.run(this.client, [key], [owner])));
      const extend = (ms: number) => this.#do("extend a lock", async () => (await EXTEND_LOCK.run(this.client, [key], [owner, String(Math.max(1, Math.ceil(ms)))])) === 1);
      return { name, owner, release, extend };
    });
  }

  markOnce(key: string, ttlMs: number): Promise<boolean> {
    return this.#do("markOnce", async () => (await this.client.set(this.#k(`once:${key}`), "1", "PX", Math.max(1, Math.ceil(ttlMs)), "NX")) === "OK");
  }

  isMarked(key: string): Promise<boolean> {
    return this.#do("isMarked", async () => (await this.client.exists(this.#k(`once:${key}`))) === 1);
  }

  putApiKey(row: ApiKeyRow): Promise<void> {
    return this.#do("putApiKey", async () => {
      const fields = ["id", row.id, "name", row.name, "hash", row.hash, "channels", JSON.stringify(row.channels), "createdAt", String(row.createdAt)];
      if (row.revokedAt !== null) fields.push("revokedAt", String(row.revokedAt));
      if (row.lastUsedAt !== null) fields.push("lastUsedAt", String(row.lastUsedAt));
      await PUT_API_KEY.run(this.client, [this.#k(`ak:${row.id}`), this.#k("akids"), this.#k("akhash")], [row.id, row.hash, ...fields]);
    });
  }
  getApiKeyByHash(hash: string): Promise<ApiKeyRow | null> {
    return this.#do("getApiKeyByHash", async () => {
      const flat = (await API_KEY_BY_HASH.run(this.client, [this.#k("akhash")], [hash, this.#k("ak:")])) as string[];
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
    return this.#do("revokeApiKey", async () => (await SET_IF_EXISTS.run(this.client, [this.#k(`ak:${id}`)], ["revokedAt", String(at), "1"])) === 1);
  }
  touchApiKey(id: string, at: number): Promise<void> {
    return this.#do("touchApiKey", async () => void (await SET_IF_EXISTS.run(this.client, [this.#k(`ak:${id}`)], ["lastUsedAt", String(at), "0"])));
  }

  appendAudit(row: AuditRow): Promise<void> {
    return this.#do("appendAudit", async () => {
      const { id: _ignored, ...rest } = row;
      const keys = [this.#k("audit:seq"), this.#k("audit:rows"), this.#k("audit")];
      if (row.channelId !== null) keys.push(this.#k(`audit:ch:${row.channelId}`));
      await APPEND_AUDIT.run(this.client, keys, [JSON.stringify(rest)]);
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
        const [pk, cs] = await this.client.hmget(this.#k(`ch:${id}`), "privateKey", "channelSecret");
        if (pk != null) cells.push({ table: "channels", row: id, column: "privateKey", value: pk });
        if (cs != null) cells.push({ table: "channels", row: id, column: "channelSecret", value: cs });
      }
      for (const ch of await this.client.smembers(this.#k("tokch"))) {
        for (const keyId of await this.client.smembers(this.#tokIds(ch))) {
          const v = await this.client.hget(this.#tokBase(ch) + keyId, "accessToken");
          if (v != null) cells.push({ table: "tokens", row: tokenRowKey(ch, keyId), column: "accessToken", value: v });
        }
      }
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
      else if (cell.table === "channels" && (cell.column === "privateKey" || cell.column === "channelSecret")) key = this.#k(`ch:${cell.row}`);
      else if (cell.table === "tokens" && cell.column === "accessToken") {
        const [ch, keyId] = splitTokenRowKey(cell.row);
        key = this.#tokBase(ch) + keyId;
      } else return false;
      const field = cell.table === "meta" ? cell.row : cell.column;
      return (await REPLACE_FIELD.run(this.client, [key], [field, expected, cell.value])) === 1;
    });
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
