// Store contract, API keys.
import assert from "node:assert/strict";
import { it } from "node:test";
import type { ApiKeyStore } from "../../../src/store/types.ts";
import { apiKey, roleSuite, T0, type Closable, type StoreFactory, type SuiteOptions } from "./harness.ts";

export function runApiKeyContract(name: string, factory: StoreFactory<ApiKeyStore & Closable>, options: SuiteOptions = {}): void {
  roleSuite("API keys", name, factory, options, (use) => {
    it("API keys: put, by hash, list, revoke, touch", use(async ({ store }) => {
      await store.putApiKey(apiKey("b", { createdAt: T0 + 1, channels: ["1", "2"] }));
      await store.putApiKey(apiKey("a"));
      assert.deepEqual(await store.getApiKeyByHash("hash-b"), apiKey("b", { createdAt: T0 + 1, channels: ["1", "2"] }));
      assert.equal(await store.getApiKeyByHash("nope"), null);
      assert.deepEqual((await store.listApiKeys()).map((k) => k.id), ["a", "b"]);
      assert.equal(await store.revokeApiKey("a", T0 + 5), true);
      assert.equal(await store.revokeApiKey("zzz", T0 + 5), false);
      await store.touchApiKey("b", T0 + 7);
      await store.touchApiKey("zzz", T0 + 7);
      const [a, b] = await store.listApiKeys();
      assert.equal(a!.revokedAt, T0 + 5);
      assert.equal(b!.lastUsedAt, T0 + 7);
      assert.equal(b!.revokedAt, null);
    }));
  });
}
