// Store contract, registry and master-key rotation.
import assert from "node:assert/strict";
import { it } from "node:test";
import { InvalidInputError } from "../../../src/core/errors.ts";
import { MASTER_CHECK_META } from "../../../src/store/common.ts";
import { MasterKeyError, SealedValueError } from "../../../src/store/errors.ts";
import { ChannelRegistry } from "../../../src/store/registry.ts";
import { rotateMasterKey } from "../../../src/store/rotate.ts";
import { generateMasterKeyText, MasterKey, openAccessToken, sealAccessToken, Sealer } from "../../../src/store/sealed.ts";
import type { Store } from "../../../src/store/types.ts";
import { privateJwk, roleSuite, T0, tokenRow, type StoreFactory, type SuiteOptions } from "./harness.ts";

export function runSealingContract(name: string, factory: StoreFactory<Store>, options: SuiteOptions = {}): void {
  roleSuite("registry and master-key rotation", name, factory, options, (use) => {
    it("registry over the store: secrets round-trip, never in plaintext at rest", use(async ({ store, rawBytes }) => {
      const sealer = new Sealer(MasterKey.parse(generateMasterKeyText()));
      const registry = await ChannelRegistry.open(store, sealer);
      const jwk = privateJwk();
      const secret = `secret-${Math.random().toString(36).slice(2)}-channel`;
      const access = `token-${Math.random().toString(36).slice(2)}-access-xyz`;
      const added = await registry.add({ channelId: "1234567890", kid: "kid-1", privateKey: jwk, channelSecret: secret, policy: { lifetimeSeconds: 3600 } });
      assert.equal(added.channelSecret, secret);
      assert.ok(await store.commitToken("1234567890", 0, tokenRow("1234567890", "key-1", { accessToken: sealAccessToken(sealer, "1234567890", "key-1", access) }), T0));
      const ch = await registry.require("1234567890");
      assert.deepEqual(ch.privateKey, jwk);
      assert.equal(ch.channelSecret, secret);
      assert.deepEqual(ch.policy, { lifetimeSeconds: 3600 });
      assert.equal(openAccessToken(sealer, (await store.getCurrent("1234567890")).token!), access);
      if (rawBytes) {
        const raw = await rawBytes();
        assert.ok(raw.includes(Buffer.from("kid-1")), "the raw dump sees the store's data");
        for (const s of [secret, access, String(jwk["d"]), String(jwk["p"]), String(jwk["q"]), String(jwk["dp"])]) {
          assert.equal(raw.includes(Buffer.from(s)), false, "a secret is stored in plaintext");
        }
      }
    }));

    it("registry: wrong master key, corrupt row and AAD swap fail typed, nothing lost", use(async ({ store }) => {
      const sealer = new Sealer(MasterKey.parse(generateMasterKeyText()));
      const registry = await ChannelRegistry.open(store, sealer);
      await registry.add({ channelId: "111", kid: "k", privateKey: privateJwk(), channelSecret: "secret-111" });
      await registry.add({ channelId: "222", kid: "k", privateKey: privateJwk(), channelSecret: "secret-222" });

      const wrong = new Sealer(MasterKey.parse(generateMasterKeyText()));
      await assert.rejects(ChannelRegistry.open(store, wrong), (e: unknown) => e instanceof MasterKeyError && e.code === "ERR_MASTER_KEY_MISMATCH" && /KAGIYA_MASTER_KEY/.test(e.message));
      await assert.rejects(new ChannelRegistry(store, wrong).get("111"), (e: unknown) => e instanceof MasterKeyError && e.code === "ERR_MASTER_KEY_MISMATCH");

      // corrupt one row: typed error for it, the others still open, the row is still there
      const row = (await store.getChannel("111"))!;
      const c = row.channelSecret.at(-2)!;
      const flipped = row.channelSecret.slice(0, -2) + (c === "A" ? "B" : "A") + row.channelSecret.slice(-1);
      assert.notEqual(flipped, row.channelSecret);
      await store.putChannel({ ...row, channelSecret: flipped });
      await assert.rejects(registry.get("111"), (e: unknown) => e instanceof SealedValueError && e.code === "ERR_SEALED_CORRUPT" && !e.message.includes("secret-111"));
      assert.equal((await registry.require("222")).channelSecret, "secret-222");
      assert.equal((await store.getChannel("111"))?.channelSecret, flipped);

      // AAD: a ciphertext copied to another row or another column does not open
      const r222 = (await store.getChannel("222"))!;
      await store.putChannel({ ...row, channelSecret: r222.channelSecret });
      await assert.rejects(registry.get("111"), (e: unknown) => e instanceof SealedValueError);
      await store.putChannel({ ...r222, channelSecret: r222.privateKey });
      await assert.rejects(registry.get("222"), (e: unknown) => e instanceof SealedValueError);
      // a token sealed for one key ID does not open as another
      const sealed = sealAccessToken(sealer, "222", "key-a", "tok");
      assert.throws(() => openAccessToken(sealer, { channelId: "222", keyId: "key-b", accessToken: sealed }), SealedValueError);
    }));

    it("rotateMasterKey re-seals everything, resumes after an interruption", use(async ({ store }) => {
      const oldKey = MasterKey.parse(generateMasterKeyText());
      const newKey = MasterKey.parse(generateMasterKeyText());
      const registry = await ChannelRegistry.open(store, new Sealer(oldKey));
      for (const id of ["301", "302", "303"]) {
        await registry.add({ channelId: id, kid: "k", privateKey: privateJwk(), channelSecret: `s-${id}` });
        await store.putToken(tokenRow(id, "t", { accessToken: registry.sealAccessToken(id, "t", `tok-${id}`) }));
      }
      const total = (await store.listSealed()).length;
      assert.equal(total, 3 * 3 + 1);
      const first = await rotateMasterKey(store, newKey, [oldKey], { limit: 4 });
      assert.deepEqual([first.resealed, first.complete], [4, false]);
      // interrupted: the check value is still under the old key; processes holding both keys work
      await ChannelRegistry.open(store, new Sealer(oldKey));
      assert.equal((await new ChannelRegistry(store, new Sealer(newKey, [oldKey])).list()).length, 3);
      assert.equal(await store.getMeta(MASTER_CHECK_META).then((v) => v!.split(".")[1]), oldKey.version);
      const second = await rotateMasterKey(store, newKey, [oldKey]);
      assert.deepEqual([second.resealed, second.skipped, second.complete], [total - 4, 4, true]);
      const third = await rotateMasterKey(store, newKey, [oldKey]);
      assert.deepEqual([third.resealed, third.skipped, third.complete], [0, total, true]);
      const after = await ChannelRegistry.open(store, new Sealer(newKey));
      assert.deepEqual((await after.list()).map((c) => c.channelSecret), ["s-301", "s-302", "s-303"]);
      assert.equal(after.openAccessToken((await store.listTokens("302"))[0]!), "tok-302");
      await assert.rejects(ChannelRegistry.open(store, new Sealer(oldKey)), (e: unknown) => e instanceof MasterKeyError && e.code === "ERR_MASTER_KEY_MISMATCH");
      // a third key that is neither: refused, nothing written
      const stranger = MasterKey.parse(generateMasterKeyText());
      const before = await store.listSealed();
      await assert.rejects(rotateMasterKey(store, stranger, [oldKey]), (e: unknown) => e instanceof MasterKeyError && e.code === "ERR_MASTER_KEY_MISMATCH");
      assert.deepEqual(await store.listSealed(), before);
    }));

    it("registry: kind, settings and further secrets; each secret sealed for its row and name, rotated with the rest", use(async ({ store, rawBytes }) => {
      const oldKey = MasterKey.parse(generateMasterKeyText());
      const newKey = MasterKey.parse(generateMasterKeyText());
      const registry = await ChannelRegistry.open(store, new Sealer(oldKey));
      const clientSecret = `client-${Math.random().toString(36).slice(2)}-secret`;
      const settings = { mode: "secret", ttlSeconds: 900, strict: false };
      const added = await registry.add({ channelId: "7", kind: "line-stateless", kid: "k", privateKey: privateJwk(), channelSecret: "s-7", settings, secrets: { clientSecret } });
      assert.deepEqual([added.kind, added.settings, added.secrets], ["line-stateless", settings, { clientSecret }]);
      const row = (await store.getChannel("7"))!;
      assert.deepEqual([row.kind, row.settings, Object.keys(row.secrets)], ["line-stateless", settings, ["clientSecret"]]);
      assert.notEqual(row.secrets["clientSecret"], clientSecret);
      assert.deepEqual((await registry.require("7")).secrets, { clientSecret });
      const plain = await registry.add({ channelId: "8", kid: "k", privateKey: privateJwk(), channelSecret: "s-8" });
      assert.deepEqual([plain.kind, plain.settings, plain.secrets], ["line-v2.1", {}, {}]);
      // Sealed for its name: moved to another name (or row), it does not open.
      await store.putChannel({ ...row, secrets: { other: row.secrets["clientSecret"]! } });
      await assert.rejects(registry.get("7"), (e: unknown) => e instanceof SealedValueError && !e.message.includes(clientSecret));
      await store.putChannel(row);
      const report = await rotateMasterKey(store, newKey, [oldKey]);
      assert.deepEqual([report.total, report.complete], [3 + 2 + 1, true]);
      const after = await ChannelRegistry.open(store, new Sealer(newKey));
      assert.deepEqual((await after.require("7")).secrets, { clientSecret });
      if (rawBytes) assert.equal((await rawBytes()).includes(Buffer.from(clientSecret)), false, "a further secret is stored in plaintext");
    }));

    it("registry: credential kinds, settings and secret names are validated, values never echoed", use(async ({ store }) => {
      const registry = await ChannelRegistry.open(store, new Sealer(MasterKey.parse(generateMasterKeyText())));
      const base = { channelId: "9", kid: "k", privateKey: privateJwk(), channelSecret: "s-9" };
      for (const kind of ["", "LINE", "line v2", "a".repeat(33), "line/v2"]) {
        await assert.rejects(registry.add({ ...base, kind }), (e: unknown) => e instanceof InvalidInputError && e.field === "kind", kind);
      }
      assert.equal((await registry.add({ ...base, kind: "a".repeat(32) })).kind, "a".repeat(32));
      for (const settings of [{ x: {} }, { x: Number.NaN }, { "bad name": 1 }, [] as unknown]) {
        await assert.rejects(registry.add({ ...base, settings: settings as never }, { replace: true }), InvalidInputError);
      }
      const secret = "do-not-echo-this-secret";
      for (const secrets of [{ "bad name": secret }, { ok: "" }, { ok: 42 }]) {
        await assert.rejects(registry.add({ ...base, secrets: secrets as never }, { replace: true }), (e: unknown) => e instanceof InvalidInputError && !e.message.includes(secret));
      }
    }));
  });
}
