// Store contract, grants: compare-and-set on the version, deletion with the credential, and the
// grant's sealed cell under master-key rotation.
import assert from "node:assert/strict";
import { it } from "node:test";
import { openGrant, sealGrant } from "../../../src/store/grants.ts";
import { rotateMasterKey } from "../../../src/store/rotate.ts";
import { generateMasterKeyText, MasterKey, Sealer } from "../../../src/store/sealed.ts";
import type { CredentialStore, GrantStore, SettingsStore } from "../../../src/store/types.ts";
import { channelRow, roleSuite, T0, type Closable, type StoreFactory, type SuiteOptions } from "./harness.ts";

type GrantRoleStore = GrantStore & CredentialStore & SettingsStore & Closable;

export function runGrantContract(name: string, factory: StoreFactory<GrantRoleStore>, options: SuiteOptions = {}): void {
  roleSuite("grants", name, factory, options, (use) => {
    it("swapGrant: first write at version 0, then only on the version read; a stale one writes nothing", use(async ({ store }) => {
      const id = "works-app";
      assert.equal(await store.getGrant(id), null);
      assert.equal(await store.swapGrant(id, 1, { secret: "v1.x.a.never", status: "active", updatedAt: T0 }), null, "no grant yet: only 0 matches");
      assert.equal(await store.getGrant(id), null);
      assert.equal(await store.swapGrant(id, 0, { secret: "v1.x.a.first", status: "active", updatedAt: T0 }), 1);
      assert.deepEqual(await store.getGrant(id), { credentialId: id, secret: "v1.x.a.first", version: 1, status: "active", updatedAt: T0 });
      assert.equal(await store.swapGrant(id, 0, { secret: "v1.x.a.again", status: "active", updatedAt: T0 + 1 }), null, "0 again: someone wrote first");
      assert.equal(await store.swapGrant(id, 1, { secret: "v1.x.a.second", status: "reauth_required", updatedAt: T0 + 2 }), 2);
      assert.equal(await store.swapGrant(id, 1, { secret: "v1.x.a.stale", status: "active", updatedAt: T0 + 3 }), null);
      assert.deepEqual(await store.getGrant(id), { credentialId: id, secret: "v1.x.a.second", version: 2, status: "reauth_required", updatedAt: T0 + 2 });
      assert.equal(await store.getGrant("other"), null, "credentials are independent");
    }));

    it("two swaps on the same version, from two instances at once: exactly one wins", use(async ({ store, other }) => {
      const peer = other ? await other() : store;
      try {
        for (const expected of [0, 1, 2]) {
          const results = await Promise.all([
            store.swapGrant("race", expected, { secret: `v1.x.a.mine${expected}`, status: "active", updatedAt: T0 }),
            peer.swapGrant("race", expected, { secret: `v1.x.a.theirs${expected}`, status: "active", updatedAt: T0 }),
          ]);
          assert.deepEqual(results.filter((r) => r !== null), [expected + 1], `round ${expected}: ${JSON.stringify(results)}`);
          const won = results[0] !== null ? `v1.x.a.mine${expected}` : `v1.x.a.theirs${expected}`;
          assert.deepEqual([(await peer.getGrant("race"))?.secret, (await peer.getGrant("race"))?.version], [won, expected + 1]);
        }
      } finally {
        if (peer !== store) await peer.close();
      }
    }));

    it("deleting the credential deletes its grant; a new one starts at version 1", use(async ({ store }) => {
      await store.putChannel(channelRow("77", { kind: "line-works" }));
      await store.swapGrant("77", 0, { secret: "v1.x.a.g", status: "active", updatedAt: T0 });
      await store.swapGrant("78", 0, { secret: "v1.x.a.h", status: "active", updatedAt: T0 });
      assert.equal(await store.deleteChannel("77"), true);
      assert.equal(await store.getGrant("77"), null);
      assert.equal((await store.listSealed()).some((c) => c.table === "grants" && c.row === "77"), false);
      assert.equal((await store.getGrant("78"))?.version, 1);
      assert.equal(await store.swapGrant("77", 0, { secret: "v1.x.a.g2", status: "active", updatedAt: T0 }), 1);
    }));

    it("the grant's sealed cell is listed, replaced by compare-and-set, and re-sealed by rotateMasterKey", use(async ({ store }) => {
      const oldKey = MasterKey.parse(generateMasterKeyText());
      const newKey = MasterKey.parse(generateMasterKeyText());
      const grant = { refreshToken: `rt-${Math.random().toString(36).slice(2)}`, scope: ["bot", "user.read"] };
      assert.equal(await store.swapGrant("g1", 0, { secret: sealGrant(new Sealer(oldKey), "g1", grant), status: "active", updatedAt: T0 }), 1);
      const cells = (await store.listSealed()).filter((c) => c.table === "grants");
      assert.deepEqual(cells.map(({ value: _v, ...c }) => c), [{ table: "grants", row: "g1", column: "secret" }]);
      assert.equal(await store.replaceSealed({ ...cells[0]!, value: "v1.x.a.z" }, "v1.x.a.not-it"), false, "a value changed meanwhile is not replaced");
      const report = await rotateMasterKey(store, newKey, [oldKey]);
      assert.equal(report.complete, true);
      const after = (await store.getGrant("g1"))!;
      assert.deepEqual([after.version, after.status], [1, "active"], "rotation leaves the version alone (it is not a new grant)");
      assert.deepEqual(openGrant(new Sealer(newKey), after), grant);
      assert.throws(() => openGrant(new Sealer(oldKey), after));
    }));
  });
}
