// Store contract, audit.
import assert from "node:assert/strict";
import { it } from "node:test";
import type { AuditStore } from "../../../src/store/types.ts";
import { roleSuite, T0, type Closable, type StoreFactory, type SuiteOptions } from "./harness.ts";

export function runAuditContract(name: string, factory: StoreFactory<AuditStore & Closable>, options: SuiteOptions = {}): void {
  roleSuite("audit", name, factory, options, (use) => {
    it("audit: append, newest first, filter by channel, limit", use(async ({ store }) => {
      for (let i = 0; i < 5; i++) {
        await store.appendAudit({ at: T0 + i, action: "token.issue", actor: "cli", channelId: i % 2 ? "1" : "2", keyId: `k${i}`, detail: i === 0 ? null : `n${i}` });
      }
      const all = await store.listAudit();
      assert.deepEqual(all.map((r) => r.keyId), ["k4", "k3", "k2", "k1", "k0"]);
      assert.equal(all[4]!.detail, null);
      assert.ok(all.every((r) => typeof r.id === "number"));
      assert.ok(all[0]!.id! > all[1]!.id!);
      assert.deepEqual((await store.listAudit({ channelId: "1" })).map((r) => r.keyId), ["k3", "k1"]);
      assert.deepEqual((await store.listAudit({ limit: 2 })).map((r) => r.keyId), ["k4", "k3"]);
      assert.deepEqual((await store.listAudit({ channelId: "2", limit: 1 })).map((r) => r.keyId), ["k4"]);
      assert.deepEqual(all[0], { id: all[0]!.id, at: T0 + 4, action: "token.issue", actor: "cli", channelId: "2", keyId: "k4", detail: "n4" });
    }));
  });
}
