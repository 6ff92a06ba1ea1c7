// The Redis backend's inbox role (key layout 3, ./layout.ts): each step is one Lua script, so an
// event is never leased to two owners. `ibx:due` orders unfinished events by when they become
// claimable (0 = now) and then by acceptance (members are `<16-digit seq>:<key>`).
import type { InboxEvent, InboxLease, InboxStore } from "../types.ts";
import { BackendRole } from "../backend-role.ts";
import type { RedisHost } from "./host.ts";
import { Script } from "./scripts.ts";

// KEYS: event, due, done, seq. ARGV: key, payload, now, expiresAt, owner ('' = none), leaseUntil
const ACCEPT = new Script(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  if (not redis.call('HGET', KEYS[1], 'done')) or tonumber(redis.call('HGET', KEYS[1], 'exp')) > tonumber(ARGV[3]) then return 0 end
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('DEL', KEYS[1])
end
local m = string.format('%016d', redis.call('INCR', KEYS[4])) .. ':' .. ARGV[1]
if ARGV[5] == '' then
  redis.call('HSET', KEYS[1], 'payload', ARGV[2], 'at', ARGV[3], 'exp', ARGV[4], 'n', '0', 'm', m)
else
  redis.call('HSET', KEYS[1], 'payload', ARGV[2], 'at', ARGV[3], 'exp', ARGV[4], 'n', '1', 'm', m, 'owner', ARGV[5])
end
redis.call('ZADD', KEYS[2], ARGV[6], m)
return 1`);

// KEYS: due. ARGV: event key prefix, owner, leaseUntil, now, limit
const CLAIM = new Script(`
local out = {}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[4], 'LIMIT', 0, tonumber(ARGV[5]))) do
  local key = string.sub(m, 18)
  local h = ARGV[1] .. key
  local n = redis.call('HINCRBY', h, 'n', 1)
  redis.call('HSET', h, 'owner', ARGV[2])
  redis.call('ZADD', KEYS[1], ARGV[3], m)
  local v = redis.call('HMGET', h, 'payload', 'at')
  out[#out + 1] = key
  out[#out + 1] = v[1]
  out[#out + 1] = tostring(n)
  out[#out + 1] = v[2]
  out[#out + 1] = m
end
return out`);

// KEYS: event, due, done. ARGV: key, owner, now
const FINISH = new Script(`
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[2], redis.call('HGET', KEYS[1], 'm'))
redis.call('HDEL', KEYS[1], 'owner', 'payload')
redis.call('HSET', KEYS[1], 'done', ARGV[3])
redis.call('ZADD', KEYS[3], redis.call('HGET', KEYS[1], 'exp'), ARGV[1])
return 1`);

// KEYS: event, due. ARGV: owner, score (leaseUntil; 0 releases)
const LEASE = new Script(`
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then redis.call('HDEL', KEYS[1], 'owner') end
redis.call('ZADD', KEYS[2], ARGV[2], redis.call('HGET', KEYS[1], 'm'))
return 1`);

// KEYS: done. ARGV: event key prefix, now
const PRUNE = new Script(`
local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, 10000)
for _, key in ipairs(keys) do
  redis.call('DEL', ARGV[1] .. key)
  redis.call('ZREM', KEYS[1], key)
end
return #keys`);

/** The inbox role under one key prefix. */
export class RedisInbox extends BackendRole<RedisHost> implements InboxStore {
  readonly #event: string;
  readonly #due: string;
  readonly #done: string;
  readonly #seq: string;

  constructor(host: RedisHost) {
    super(host);
    this.#event = host.keys.k("ibx:e:");
    this.#due = host.keys.k("ibx:due");
    this.#done = host.keys.k("ibx:done");
    this.#seq = host.keys.k("ibx:seq");
  }

  acceptEvent(key: string, payload: string, ttlMs: number, now: number, lease?: InboxLease): Promise<boolean> {
    const args = [key, payload, now, now + ttlMs, lease?.owner ?? "", lease ? now + lease.leaseMs : 0];
    return this.h.run("acceptEvent", async () => (await ACCEPT.run(this.h.client, [this.#event + key, this.#due, this.#done, this.#seq], args)) === 1);
  }

  claimEvents(owner: string, leaseMs: number, limit: number, now: number): Promise<InboxEvent[]> {
    return this.h.run("claimEvents", async () => {
      const flat = (await CLAIM.run(this.h.client, [this.#due], [this.#event, owner, now + leaseMs, now, limit])) as string[];
      const out: Array<InboxEvent & { m: string }> = [];
      for (let i = 0; i < flat.length; i += 5) out.push({ key: flat[i]!, payload: flat[i + 1]!, attempts: Number(flat[i + 2]), acceptedAt: Number(flat[i + 3]), m: flat[i + 4]! });
      // Oldest first: the members begin with the zero-padded acceptance sequence.
      return out.sort((a, b) => (a.m < b.m ? -1 : 1)).map(({ m: _m, ...e }) => e);
    });
  }

  finishEvent(key: string, owner: string, now: number): Promise<boolean> {
    return this.h.run("finishEvent", async () => (await FINISH.run(this.h.client, [this.#event + key, this.#due, this.#done], [key, owner, now])) === 1);
  }

  extendEvent(key: string, owner: string, leaseMs: number, now: number): Promise<boolean> {
    return this.h.run("extendEvent", async () => (await LEASE.run(this.h.client, [this.#event + key, this.#due], [owner, now + leaseMs])) === 1);
  }

  releaseEvent(key: string, owner: string): Promise<boolean> {
    return this.h.run("releaseEvent", async () => (await LEASE.run(this.h.client, [this.#event + key, this.#due], [owner, 0])) === 1);
  }

  pruneEvents(now: number): Promise<number> {
    return this.h.run("pruneEvents", async () => Number(await PRUNE.run(this.h.client, [this.#done], [this.#event, now])));
  }
}

/** Layout 2 → 3: the inbox keys are new, so only the version moves (guarded by the one it starts from). */
export const UPGRADE_LAYOUT_3 = new Script(`
if redis.call('GET', KEYS[1]) == '2' then redis.call('SET', KEYS[1], '3') end
return tonumber(redis.call('GET', KEYS[1]))`);
