// The Redis backend's once-mark role (webhook de-duplication): `once:<key>` strings with PX expiry,
// set by SET NX one at a time or, for markMany, by one script.
import type { OnceMarkStore } from "../types.ts";
import { BackendRole } from "../backend-role.ts";
import type { RedisHost } from "./host.ts";
import { Script } from "./scripts.ts";

// KEYS: the marks' keys. ARGV[1]: TTL, ms. 1 per key set (first time), 0 per key already there.
const MARK_MANY = new Script(`
local out = {}
for i, k in ipairs(KEYS) do
  out[i] = redis.call('SET', k, '1', 'PX', ARGV[1], 'NX') and 1 or 0
end
return out`);

/** Once-marks under one key prefix. */
export class RedisMarks extends BackendRole<RedisHost> implements OnceMarkStore {
  markOnce(key: string, ttlMs: number): Promise<boolean> {
    return this.h.run("markOnce", async () => (await this.h.client.set(this.h.keys.k(`once:${key}`), "1", "PX", Math.max(1, Math.ceil(ttlMs)), "NX")) === "OK");
  }

  markMany(keys: readonly string[], ttlMs: number): Promise<boolean[]> {
    if (keys.length === 0) return Promise.resolve([]);
    // One script, so one command for the client to encode and parse however many keys there are.
    return this.h.run("markMany", async () => {
      const set = (await MARK_MANY.run(this.h.client, keys.map((key) => this.h.keys.k(`once:${key}`)), [Math.max(1, Math.ceil(ttlMs))])) as number[];
      return set.map((n) => n === 1);
    });
  }

  isMarked(key: string): Promise<boolean> {
    return this.h.run("isMarked", async () => (await this.h.client.exists(this.h.keys.k(`once:${key}`))) === 1);
  }
}
