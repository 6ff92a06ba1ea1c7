// The Redis backend's token role: `cur:<id>` pointers, `tok:…` rows and their index sets
// (./layout.ts); commitToken's compare-and-set on the generation is one Lua script.
import { MicroBatcher } from "../batcher.ts";
import { byIssuedDesc } from "../common.ts";
import type { CredentialTokens, CurrentToken, TokenRow, TokenState, TokenStore } from "../types.ts";
import { pairsToHash, toToken, tokenFields } from "./codec.ts";
import * as lua from "./scripts.ts";
import { BackendRole } from "../backend-role.ts";
import type { RedisHost } from "./host.ts";

/** Token rows with generation fencing under one key prefix. */
export class RedisTokens extends BackendRole<RedisHost> implements TokenStore {
  /** Current-token reads made close together go as one script call (the token API's re-checks). */
  readonly #reads = new MicroBatcher<string, CurrentToken>({ run: (ids) => this.#readCurrent(ids), maxInFlight: 2, maxBatch: 500 });

  getCurrent(channelId: string): Promise<CurrentToken> {
    return this.h.run("getCurrent", () => this.#reads.add(channelId));
  }
  // One script call per batch: a command per channel costs the client more than the server.
  async #readCurrent(ids: readonly string[]): Promise<CurrentToken[]> {
    const answers = (await lua.GET_CURRENT.run(this.h.client, ids.map((id) => this.h.keys.k(`cur:${id}`)), ids.map((id) => this.h.keys.tokBase(id)))) as unknown[];
    return answers.map(decodeCurrent);
  }

  commitToken(channelId: string, expectedGeneration: number, token: TokenRow, supersededRevokeAt: number): Promise<boolean> {
    return this.h.run("commitToken", async () => {
      const row = { ...token, channelId, generation: expectedGeneration + 1 };
      const keys = [this.h.keys.k(`cur:${channelId}`), this.h.keys.tokIds(channelId), this.h.keys.k("tokch")];
      const args = [this.h.keys.tokBase(channelId), String(expectedGeneration), token.keyId, String(supersededRevokeAt), String(token.updatedAt), channelId, ...tokenFields(row)];
      return (await lua.COMMIT_TOKEN.run(this.h.client, keys, args)) === 1;
    });
  }

  putToken(token: TokenRow): Promise<void> {
    return this.h.run("putToken", async () => {
      const key = this.h.keys.tokBase(token.channelId) + token.keyId;
      await this.h.client
        .multi()
        .del(key)
        .hset(key, ...tokenFields(token))
        .sadd(this.h.keys.tokIds(token.channelId), token.keyId)
        .sadd(this.h.keys.k("tokch"), token.channelId)
        .exec();
    });
  }
  listTokens(channelId: string): Promise<TokenRow[]> {
    return this.h.run("listTokens", async () => {
      const ids = await this.h.client.smembers(this.h.keys.tokIds(channelId));
      const base = this.h.keys.tokBase(channelId);
      const rows = await Promise.all(ids.map((id) => this.h.client.hgetall(base + id)));
      return rows.filter((h) => h["keyId"] !== undefined).map(toToken).sort(byIssuedDesc);
    });
  }
  listTokensMany(channelIds: readonly string[]): Promise<Map<string, CredentialTokens>> {
    return this.h.run("listTokensMany", async () => {
      const out = new Map<string, CredentialTokens>();
      const ids = [...new Set(channelIds)];
      // One script per 200 channels: a few round trips, each short enough not to hold up the server.
      const chunks: string[][] = [];
      for (let i = 0; i < ids.length; i += 200) chunks.push(ids.slice(i, i + 200));
      const answers = await Promise.all(chunks.map((chunk) => lua.LIST_TOKENS_MANY.run(this.h.client, [], [this.h.keys.prefix, ...chunk.flatMap((id) => [id, this.h.keys.tokBase(id)])]) as Promise<Array<[string, string, string[][]]>>));
      answers.forEach((answer, c) => answer.forEach(([gen, key, flats], j) => {
        const rows = flats.map((flat) => toToken(pairsToHash(flat))).sort(byIssuedDesc);
        const current = key === "" ? undefined : rows.find((r) => r.keyId === key);
        out.set(chunks[c]![j]!, { generation: Number(gen), token: current ? { ...current } : null, rows });
      }));
      return out;
    });
  }
  setTokenState(channelId: string, keyId: string, state: TokenState, revokeAt?: number | null, at?: number): Promise<boolean> {
    return this.h.run("setTokenState", async () => {
      const mode = revokeAt === undefined ? "keep" : revokeAt === null ? "null" : "set";
      const r = await lua.SET_TOKEN_STATE.run(this.h.client, [this.h.keys.tokBase(channelId) + keyId], [state, mode, String(revokeAt ?? ""), String(at ?? Date.now())]);
      return r === 1;
    });
  }
  pruneTokens(channelId: string, before: number): Promise<number> {
    return this.h.run("pruneTokens", async () => Number(await lua.PRUNE_TOKENS.run(this.h.client, [this.h.keys.tokIds(channelId)], [this.h.keys.tokBase(channelId), String(before)])));
  }
}

function decodeCurrent(answer: unknown): CurrentToken {
  const r = answer as [string, string[]?];
  const flat = r[1];
  return { generation: Number(r[0]), token: flat && flat.length > 0 ? toToken(pairsToHash(flat)) : null };
}
