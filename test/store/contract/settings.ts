// Store contract, settings and sealed cells.
import assert from "node:assert/strict";
import { it } from "node:test";
import type { CredentialStore, SettingsStore, TokenStore } from "../../../src/store/types.ts";
import { channelRow, roleSuite, tokenRow, type Closable, type StoreFactory, type SuiteOptions } from "./harness.ts";

export function runSettingsContract(name: string, factory: StoreFactory<SettingsStore & CredentialStore & TokenStore & Closable>, options: SuiteOptions = {}): void {
  roleSuite("settings and sealed cells", name, factory, options, (use) => {
    it("meta: missing is null, set overwrites", use(async ({ store }) => {
      assert.equal(await store.getMeta("nope"), null);
      await store.setMeta("a", "1");
      await store.setMeta("a", "2");
      assert.equal(await store.getMeta("a"), "2");
    }));

    it("listSealed names every sealed cell; replaceSealed is compare-and-set", use(async ({ store }) => {
      await store.putChannel(channelRow("5"));
      await store.putToken(tokenRow("5", "k/1"));
      await store.putToken(tokenRow("5", "orph", { accessToken: null, state: "orphan" }));
      await store.setMeta("sealed.x", "v1.00000000.m.x");
      await store.setMeta("plain", "not sealed");
      const cells = await store.listSealed();
      const key = (c: { table: string; row: string; column: string }) => `${c.table}|${c.row}|${c.column}`;
      assert.deepEqual(cells.map(key).sort(), ["channels|5|channelSecret", "channels|5|privateKey", "meta|sealed.x|value", "tokens|5/k/1|accessToken"]);
      for (const c of cells) {
        assert.equal(await store.replaceSealed({ ...c, value: "new" }, "wrong"), false);
        assert.equal(await store.replaceSealed({ ...c, value: `new-${c.column}` }, c.value), true);
      }
      const after = await store.listSealed();
      assert.ok(after.every((c) => c.value === `new-${c.column}`));
      assert.equal((await store.getChannel("5"))?.channelSecret, "new-channelSecret");
      assert.equal((await store.listTokens("5")).find((t) => t.keyId === "k/1")?.accessToken, "new-accessToken");
      assert.equal(await store.getMeta("plain"), "not sealed");
    }));

    it("listSealed and replaceSealed cover a channel's further secrets", use(async ({ store }) => {
      await store.putChannel(channelRow("6", { secrets: { clientSecret: "v1.00000000.s.6", "x.y": "v1.00000000.t.6" } }));
      const cells = (await store.listSealed()).filter((c) => c.table === "channels");
      assert.deepEqual(cells.map((c) => `${c.row}|${c.column}=${c.value}`).sort(), [
        "6|channelSecret=v1.00000000.cs.6",
        "6|privateKey=v1.00000000.pk.6",
        "6|secrets.clientSecret=v1.00000000.s.6",
        "6|secrets.x.y=v1.00000000.t.6",
      ]);
      const cell = cells.find((c) => c.column === "secrets.x.y")!;
      assert.equal(await store.replaceSealed({ ...cell, value: "v1.other" }, "wrong"), false);
      assert.equal(await store.replaceSealed({ ...cell, column: "secrets.absent", value: "v1.other" }, cell.value), false);
      assert.equal(await store.replaceSealed({ ...cell, value: "v1.new" }, cell.value), true);
      assert.deepEqual((await store.getChannel("6"))!.secrets, { clientSecret: "v1.00000000.s.6", "x.y": "v1.new" });
    }));
  });
}
