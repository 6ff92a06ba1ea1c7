// Store contract, credentials.
import assert from "node:assert/strict";
import { it } from "node:test";
import type { CredentialStore, TokenStore } from "../../../src/store/types.ts";
import { channelRow, roleSuite, T0, tokenRow, type Closable, type StoreFactory, type SuiteOptions } from "./harness.ts";

export function runCredentialContract(name: string, factory: StoreFactory<CredentialStore & TokenStore & Closable>, options: SuiteOptions = {}): void {
  roleSuite("credentials", name, factory, options, (use) => {
    it("channels: put, get, replace, list by id, delete with tokens", use(async ({ store }) => {
      assert.equal(await store.getChannel("100"), null);
      await store.putChannel(channelRow("200"));
      await store.putChannel(channelRow("100", { policy: {} }));
      await store.putChannel(channelRow("200", { kid: "kid-new", updatedAt: T0 + 1, policy: { maxLiveTokens: 2, refreshMin: 0.5 } }));
      const got = await store.getChannel("200");
      assert.deepEqual(got, channelRow("200", { kid: "kid-new", updatedAt: T0 + 1, policy: { maxLiveTokens: 2, refreshMin: 0.5 } }));
      got!.policy.maxLiveTokens = 9;
      assert.equal((await store.getChannel("200"))!.policy.maxLiveTokens, 2, "rows are copies");
      assert.deepEqual((await store.listChannels()).map((c) => c.channelId), ["100", "200"]);
      assert.deepEqual(await store.listChannelIds(), ["100", "200"]);
      assert.ok(await store.commitToken("200", 0, tokenRow("200", "k1"), T0));
      await store.putToken(tokenRow("200", "orphan", { accessToken: null, state: "orphan" }));
      assert.equal(await store.deleteChannel("200"), true);
      assert.equal(await store.deleteChannel("200"), false);
      assert.equal(await store.getChannel("200"), null);
      assert.deepEqual(await store.listTokens("200"), []);
      assert.deepEqual(await store.getCurrent("200"), { generation: 0, token: null });
      assert.equal((await store.getChannel("100"))?.channelId, "100");
      assert.deepEqual(await store.listChannelIds(), ["100"]);
    }));

    it("getChannelVersions: each existing channel's updatedAt in one call; absent channels left out", use(async ({ store }) => {
      assert.deepEqual(await store.getChannelVersions([]), new Map());
      await store.putChannel({ ...channelRow("300"), updatedAt: 1_000 });
      await store.putChannel({ ...channelRow("301"), updatedAt: 2_000 });
      assert.deepEqual(await store.getChannelVersions(["301", "nope", "300", "301"]), new Map([["301", 2_000], ["300", 1_000]]));
      await store.putChannel({ ...channelRow("300"), updatedAt: 3_000 });
      await store.deleteChannel("301");
      assert.deepEqual(await store.getChannelVersions(["300", "301"]), new Map([["300", 3_000]]));
    }));

    it("channels: kind, settings and further secrets round-trip as copies; a replaced row keeps only what it gives", use(async ({ store }) => {
      const full = { kind: "line-stateless", settings: { region: "jp", retries: 3, strict: true }, secrets: { clientSecret: "v1.00000000.s.10", "a.b": "v1.00000000.t.10" } };
      await store.putChannel(channelRow("10", full));
      const got = await store.getChannel("10");
      assert.deepEqual(got, channelRow("10", full));
      got!.settings["region"] = "us";
      got!.secrets["clientSecret"] = "changed";
      const again = (await store.getChannel("10"))!;
      assert.deepEqual([again.settings["region"], again.secrets["clientSecret"]], ["jp", "v1.00000000.s.10"], "rows are copies");
      assert.deepEqual((await store.listChannels()).map((c) => c.kind), ["line-stateless"]);
      await store.putChannel(channelRow("10"));
      assert.deepEqual(await store.getChannel("10"), channelRow("10"));
    }));
  });
}
