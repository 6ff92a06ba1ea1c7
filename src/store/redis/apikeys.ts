// The Redis backend's API-key role: `ak:<id>` hashes, the `akids` set and the `akhash` index (./layout.ts).
import type { ApiKeyRow, ApiKeyStore } from "../types.ts";
import { pairsToHash, toApiKey } from "./codec.ts";
import * as lua from "./scripts.ts";
import { BackendRole } from "../backend-role.ts";
import type { RedisHost } from "./host.ts";

/** The broker's API keys under one key prefix. */
export class RedisApiKeys extends BackendRole<RedisHost> implements ApiKeyStore {
  putApiKey(row: ApiKeyRow): Promise<void> {
    return this.h.run("putApiKey", async () => {
      const fields = ["id", row.id, "name", row.name, "hash", row.hash, "channels", JSON.stringify(row.channels), "createdAt", String(row.createdAt)];
      if (row.revokedAt !== null) fields.push("revokedAt", String(row.revokedAt));
      if (row.lastUsedAt !== null) fields.push("lastUsedAt", String(row.lastUsedAt));
      await lua.PUT_API_KEY.run(this.h.client, [this.h.keys.k(`ak:${row.id}`), this.h.keys.k("akids"), this.h.keys.k("akhash")], [row.id, row.hash, ...fields]);
    });
  }
  getApiKeyByHash(hash: string): Promise<ApiKeyRow | null> {
    return this.h.run("getApiKeyByHash", async () => {
      const flat = (await lua.API_KEY_BY_HASH.run(this.h.client, [this.h.keys.k("akhash")], [hash, this.h.keys.k("ak:")])) as string[];
      return flat.length === 0 ? null : toApiKey(pairsToHash(flat));
    });
  }
  listApiKeys(): Promise<ApiKeyRow[]> {
    return this.h.run("listApiKeys", async () => {
      const ids = await this.h.client.smembers(this.h.keys.k("akids"));
      const rows = await Promise.all(ids.map((id) => this.h.client.hgetall(this.h.keys.k(`ak:${id}`))));
      return rows
        .filter((h) => h["id"] !== undefined)
        .map(toApiKey)
        .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    });
  }
  revokeApiKey(id: string, at: number): Promise<boolean> {
    return this.h.run("revokeApiKey", async () => (await lua.SET_IF_EXISTS.run(this.h.client, [this.h.keys.k(`ak:${id}`)], ["revokedAt", String(at), "1"])) === 1);
  }
  touchApiKey(id: string, at: number): Promise<void> {
    return this.h.run("touchApiKey", async () => void (await lua.SET_IF_EXISTS.run(this.h.client, [this.h.keys.k(`ak:${id}`)], ["lastUsedAt", String(at), "0"])));
  }
}
