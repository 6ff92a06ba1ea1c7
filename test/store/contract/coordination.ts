// Store contract, token coordination.
import assert from "node:assert/strict";
import { it } from "node:test";
import type { CredentialStore, TokenCoordinationStore } from "../../../src/store/types.ts";
import { channelRow, roleSuite, T0, type Closable, type StoreFactory, type SuiteOptions } from "./harness.ts";

export function runCoordinationContract(name: string, factory: StoreFactory<TokenCoordinationStore & CredentialStore & Closable>, options: SuiteOptions = {}): void {
  roleSuite("token coordination", name, factory, options, (use) => {
    it("issue intent: set, get, replace; cleared only by its owner, or unconditionally", use(async ({ store, other }) => {
      const id = "1234567890";
      assert.equal(await store.getIssueIntent(id), null);
      await store.setIssueIntent(id, { owner: "a", at: T0 });
      assert.deepEqual(await store.getIssueIntent(id), { owner: "a", at: T0 });
      await store.setIssueIntent(id, { owner: "b", at: T0 + 1 });
      const peer = other ? await other() : store;
      try {
        assert.deepEqual(await peer.getIssueIntent(id), { owner: "b", at: T0 + 1 });
        await peer.clearIssueIntent(id, "a");
        assert.deepEqual(await store.getIssueIntent(id), { owner: "b", at: T0 + 1 }, "another owner's intent stays");
      } finally {
        if (peer !== store) await peer.close();
      }
      await store.clearIssueIntent(id, "b");
      assert.equal(await store.getIssueIntent(id), null);
      await store.setIssueIntent(id, { owner: "c", at: T0 + 2 });
      await store.setIssueIntent("999", { owner: "z", at: T0 });
      await store.clearIssueIntent(id);
      assert.equal(await store.getIssueIntent(id), null);
      assert.deepEqual(await store.getIssueIntent("999"), { owner: "z", at: T0 }, "credentials are independent");
      await store.clearIssueIntent("nothing-here");
    }));

    it("shared backoff: set, get, replace, clear", use(async ({ store }) => {
      const id = "1234567890";
      assert.equal(await store.getBackoff(id), null);
      await store.setBackoff(id, { retryAt: T0 + 60_000, code: "ERR_LINE_RATE_LIMITED", message: "LINE answered 429 \u2014 retry later" });
      assert.deepEqual(await store.getBackoff(id), { retryAt: T0 + 60_000, code: "ERR_LINE_RATE_LIMITED", message: "LINE answered 429 \u2014 retry later" });
      await store.setBackoff(id, { retryAt: T0 + 1, code: "ERR_LINE_UNAVAILABLE", message: "" });
      assert.deepEqual(await store.getBackoff(id), { retryAt: T0 + 1, code: "ERR_LINE_UNAVAILABLE", message: "" });
      assert.equal(await store.getBackoff("999"), null);
      await store.clearBackoff(id);
      assert.equal(await store.getBackoff(id), null);
      await store.clearBackoff(id);
    }));

    it("deleting a channel clears its coordination state", use(async ({ store }) => {
      await store.putChannel(channelRow("55"));
      await store.setIssueIntent("55", { owner: "a", at: T0 });
      await store.setBackoff("55", { retryAt: T0, code: "E", message: "m" });
      await store.setBackoff("56", { retryAt: T0, code: "E", message: "m" });
      assert.equal(await store.deleteChannel("55"), true);
      assert.deepEqual([await store.getIssueIntent("55"), await store.getBackoff("55")], [null, null]);
      assert.notEqual(await store.getBackoff("56"), null);
    }));
  });
}
