// The Lua scripts of the Redis store: every step that must be atomic. Key names: ./layout.ts.
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

/** A Lua script run with EVALSHA, falling back to EVAL once when the server does not know it. */
export class Script {
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

// KEYS: cur per channel. ARGV: tok base per channel. Per channel {generation} or {generation,
// {field, value, ...} of the current token row}; many channels in one call (batched reads).
export const GET_CURRENT = new Script(`
local out = {}
for i, k in ipairs(KEYS) do
  local c = redis.call('HMGET', k, 'gen', 'key')
  if not c[1] then out[i] = {'0'}
  elseif not c[2] then out[i] = {c[1]}
  else out[i] = {c[1], redis.call('HGETALL', ARGV[i] .. c[2])} end
end
return out`);

// KEYS: ch per channel. Each channel's updatedAt, or '' when it is not there.
export const CHANNEL_VERSIONS = new Script(`
local out = {}
for i, k in ipairs(KEYS) do out[i] = redis.call('HGET', k, 'updatedAt') or '' end
return out`);

// ARGV: prefix, then channel ID and its token-row key base for each channel.
// Per channel: {generation, current key ID or '', {field, value, ...} per token row}.
export const LIST_TOKENS_MANY = new Script(`
local out = {}
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  local base = ARGV[i + 1]
  local c = redis.call('HMGET', ARGV[1] .. 'cur:' .. id, 'gen', 'key')
  local rows = {}
  for _, k in ipairs(redis.call('SMEMBERS', ARGV[1] .. 'tokids:' .. id)) do
    local h = redis.call('HGETALL', base .. k)
    if #h > 0 then rows[#rows + 1] = h end
  end
  out[#out + 1] = {c[1] or '0', c[2] or '', rows}
end
return out`);

// KEYS: cur, tokids, tokch. ARGV: tokbase, expected, keyId, supersededRevokeAt, updatedAt, channelId, field/value...
export const COMMIT_TOKEN = new Script(`
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
export const SET_TOKEN_STATE = new Script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'updatedAt', ARGV[4])
if ARGV[2] == 'set' then redis.call('HSET', KEYS[1], 'revokeAt', ARGV[3])
elseif ARGV[2] == 'null' then redis.call('HDEL', KEYS[1], 'revokeAt') end
return 1`);

// KEYS: tokids. ARGV: tokbase, before
export const PRUNE_TOKENS = new Script(`
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

// KEYS: chids, ch, cur, tokids, tokch, intent, backoff, grant, grantids. ARGV: tokbase, channelId
export const DELETE_CHANNEL = new Script(`
for _, id in ipairs(redis.call('SMEMBERS', KEYS[4])) do redis.call('DEL', ARGV[1] .. id) end
redis.call('DEL', KEYS[3], KEYS[4], KEYS[6], KEYS[7], KEYS[8])
redis.call('SREM', KEYS[5], ARGV[2])
redis.call('SREM', KEYS[9], ARGV[2])
redis.call('SREM', KEYS[1], ARGV[2])
return redis.call('DEL', KEYS[2])`);

// KEYS: any hash. ARGV: field, expected, new
export const REPLACE_FIELD = new Script(`
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1`);

export const RELEASE_LOCK = new Script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

// KEYS: lock. ARGV: owner, ttl ms.
export const EXTEND_LOCK = new Script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`);

// KEYS: ak, akids, akhash. ARGV: id, hash, field/value...
export const PUT_API_KEY = new Script(`
local old = redis.call('HGET', KEYS[1], 'hash')
if old and old ~= ARGV[2] then redis.call('HDEL', KEYS[3], old) end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[1])
return 1`);

// KEYS: akhash. ARGV: hash, akbase
export const API_KEY_BY_HASH = new Script(`
local id = redis.call('HGET', KEYS[1], ARGV[1])
if not id then return {} end
return redis.call('HGETALL', ARGV[2] .. id)`);

// KEYS: ak. ARGV: field, value, onlyIfUnset (1|0)
export const SET_IF_EXISTS = new Script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[3] == '1' then redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1`);

// KEYS: seq, rows, list[, chlist]. ARGV: json
export const APPEND_AUDIT = new Script(`
local id = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], id, ARGV[1])
redis.call('LPUSH', KEYS[3], id)
if KEYS[4] then redis.call('LPUSH', KEYS[4], id) end
return id`);

// KEYS: intent. ARGV: owner
export const CLEAR_INTENT_OF = new Script(`
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

/**
 * Upgrades a layout-1 store to layout 2 in one step, so no process sees it half done: the 0.1
 * meta fields `tokens.issuing.<id>` ({"at","pid"}) and `tokens.backoff.<id>` ({"retryAt","code",
 * "message"}) are copied to `intent:<id>` (owner "legacy:<pid>") and `backoff:<id>`; empty or
 * malformed values meant none. The meta fields stay (the engine reads them until it moves to the
 * typed keys). Returns the layout version after the call.
 * KEYS: layout, meta. ARGV: prefix, target version, intent meta prefix, backoff meta prefix.
 */
export const UPGRADE_LAYOUT_2 = new Script(`
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
if v >= 2 then return v end
local meta = redis.call('HGETALL', KEYS[2])
for i = 1, #meta, 2 do
  local name, value = meta[i], meta[i + 1]
  local ok, o = pcall(cjson.decode, value)
  if ok and type(o) == 'table' then
    if string.sub(name, 1, #ARGV[3]) == ARGV[3] and type(o.at) == 'number' then
      local pid = 'unknown'
      if type(o.pid) == 'number' then pid = string.format('%.0f', o.pid) end
      redis.call('HSET', ARGV[1] .. 'intent:' .. string.sub(name, #ARGV[3] + 1), 'owner', 'legacy:' .. pid, 'at', string.format('%.0f', o.at))
    elseif string.sub(name, 1, #ARGV[4]) == ARGV[4] and type(o.retryAt) == 'number' and type(o.code) == 'string' and type(o.message) == 'string' then
      redis.call('HSET', ARGV[1] .. 'backoff:' .. string.sub(name, #ARGV[4] + 1), 'retryAt', string.format('%.0f', o.retryAt), 'code', o.code, 'message', o.message)
    end
  end
end
redis.call('SET', KEYS[1], ARGV[2])
return tonumber(ARGV[2])`);
