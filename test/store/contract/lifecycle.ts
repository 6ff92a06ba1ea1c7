// Store contract, lifecycle.
import assert from "node:assert/strict";
import { it } from "node:test";
import type { CredentialStore, SettingsStore, StoreLifecycle } from "../../../src/store/types.ts";
import { channelRow, roleSuite, type StoreFactory, type SuiteOptions } from "./harness.ts";

export function runLifecycleContract(name: string, factory: StoreFactory<StoreLifecycle & SettingsStore & CredentialStore>, options: SuiteOptions = {}): void {
  roleSuite("lifecycle", name, factory, options, (use) => {
    it("migrate() is idempotent and keeps data", use(async ({ store, other }) => {
      await store.setMeta("k", "v");
      await store.putChannel(channelRow("1"));
      await store.migrate();
      await store.migrate();
      if (other) {
        const s2 = await other();
        await s2.migrate();
        assert.equal(await s2.getMeta("k"), "v");
        await s2.close();
      }
      assert.equal(await store.getMeta("k"), "v");
      assert.equal((await store.getChannel("1"))?.kid, "kid-1");
      await store.ping();
    }));
  });
}
