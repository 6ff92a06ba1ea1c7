// The Redis backend's grant role (key layout 4, ./layout.ts): `grant:<id>` hashes, written only by
// one compare-and-set script on their version, and the `grantids` set master-key rotation walks.
import type { GrantState, GrantStatus, GrantStore, GrantWrite } from "../types.ts";
import { num } from "./codec.ts";
import { BackendRole } from "../backend-role.ts";
import type { RedisHost } from "./host.ts";
import { Script } from "./scripts.ts";

// KEYS: grant, grantids. ARGV: credentialId, expected version, secret, status, updatedAt
const SWAP = new Script(`
local v = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if v ~= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'secret', ARGV[3], 'version', tostring(v + 1), 'status', ARGV[4], 'updatedAt', ARGV[5])
redis.call('SADD', KEYS[2], ARGV[1])
return v + 1`);

/** Moves a layout-3 store to layout 4 (grants): no data to copy. KEYS: layout. */
export const UPGRADE_LAYOUT_4 = new Script(`
if redis.call('GET', KEYS[1]) == '3' then redis.call('SET', KEYS[1], '4') end
return tonumber(redis.call('GET', KEYS[1]))`);

/** The grant role under one key prefix. */
export class RedisGrants extends BackendRole<RedisHost> implements GrantStore {
  getGrant(credentialId: string): Promise<GrantState | null> {
    return this.h.run("getGrant", async () => {
      const h = await this.h.client.hgetall(this.h.keys.grant(credentialId));
      if (h["secret"] === undefined) return null;
      return { credentialId, secret: h["secret"], version: num(h["version"]), status: (h["status"] ?? "active") as GrantStatus, updatedAt: num(h["updatedAt"]) };
    });
  }

  swapGrant(credentialId: string, expectedVersion: number, next: GrantWrite): Promise<number | null> {
    return this.h.run("swapGrant", async () => {
      const keys = [this.h.keys.grant(credentialId), this.h.keys.grantIds()];
      const v = Number(await SWAP.run(this.h.client, keys, [credentialId, String(expectedVersion), next.secret, next.status, String(next.updatedAt)]));
      return v === 0 ? null : v;
    });
  }

  /** Every grant's sealed secret, by credential ID. */
  async sealedSecrets(): Promise<Array<[string, string]>> {
    const out: Array<[string, string]> = [];
    for (const id of (await this.h.client.smembers(this.h.keys.grantIds())).sort()) {
      const v = await this.h.client.hget(this.h.keys.grant(id), "secret");
      if (v !== null) out.push([id, v]);
    }
    return out;
  }
}
