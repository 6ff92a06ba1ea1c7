// The one contract every Store backend passes. Each backend's test file calls runStoreContract
// with a factory that makes a fresh, isolated, migrated store (own file / key prefix / schema).
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, it } from "node:test";
import { MASTER_CHECK_META } from "../../src/store/common.ts";
import { MasterKeyError, SealedValueError } from "../../src/store/errors.ts";
import { ChannelRegistry } from "../../src/store/registry.ts";
import { rotateMasterKey } from "../../src/store/rotate.ts";
import { generateMasterKeyText, MasterKey, Sealer, sealAccessToken, openAccessToken } from "../../src/store/sealed.ts";
import type { ApiKeyRow, ChannelRow, Store, TokenRow } from "../../src/store/types.ts";

export interface StoreHarness {
  store: Store;
  /** Another store instance over the same data (another connection or file handle). */
  other?: () => Promise<Store>;
  /** Every byte the backend holds for this harness (files, keys, table dumps). */
  rawBytes?: () => Promise<Buffer>;
  cleanup: () => Promise<void>;
}

export type StoreFactory = () => Promise<StoreHarness>;

/**
 * The harness of a backend whose instances share data: `open` makes one more instance over the
 * same file, key prefix or schema. The store and every `other()` are migrated; cleanup closes the
 * others, then `destroy`s (when given) and closes the store.
 */
export async function sharedStoreHarness<S extends Store>(
  open: () => Promise<S>,
  options: { rawBytes: (store: S) => Promise<Buffer>; destroy?: (store: S) => Promise<void> },
): Promise<StoreHarness> {
  const store = await open();
  await store.migrate();
  const others: S[] = [];
  return {
    store,
    other: async () => {
      const s = await open();
      others.push(s);
      await s.migrate();
      return s;
    },
    rawBytes: () => options.rawBytes(store),
    cleanup: async () => {
      for (const s of others) await s.close();
      await options.destroy?.(store);
      await store.close();
    },
  };
}

const T0 = 1_763_000_000_000;

export function tokenRow(channelId: string, keyId: string, over: Partial<TokenRow> = {}): TokenRow {
  return {
    channelId,
    keyId,
    accessToken: `v1.00000000.bm9uY2U.${keyId}`,
    generation: 0,
    state: "valid",
    issuedAt: T0,
    expiresAt: T0 + 7 * 86_400_000,
    refreshAt: T0 + 5 * 86_400_000,
    revokeAt: null,
    updatedAt: T0,
    ...over,
  };
}

function channelRow(channelId: string, over: Partial<ChannelRow> = {}): ChannelRow {
  return {
    channelId,
    kid: `kid-${channelId}`,
    privateKey: `v1.00000000.pk.${channelId}`,
    channelSecret: `v1.00000000.cs.${channelId}`,
    policy: { lifetimeSeconds: 86_400 },
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

function apiKey(id: string, over: Partial<ApiKeyRow> = {}): ApiKeyRow {
  return { id, name: `svc-${id}`, hash: `hash-${id}`, channels: ["1234567890"], createdAt: T0, revokedAt: null, lastUsedAt: null, ...over };
}

let rsa: object | undefined;
function privateJwk(): Record<string, unknown> {
  rsa ??= generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
  return { ...rsa, alg: "RS256", use: "sig" };
}

/** Polls `fn` until it returns true (bounded); for TTLs a backend enforces with its own clock. */
async function eventually(fn: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`never happened: ${what}`);
}

export function runStoreContract(name: string, factory: StoreFactory, options: { skip?: string | false } = {}): void {
  const use = (fn: (h: StoreHarness) => Promise<void>) => async () => {
    const h = await factory();
    try {
      await fn(h);
    } finally {
      await h.cleanup();
    }
  };

  describe(`Store contract: ${name}`, { skip: options.skip ?? false }, () => {
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

    it("meta: missing is null, set overwrites", use(async ({ store }) => {
      assert.equal(await store.getMeta("nope"), null);
      await store.setMeta("a", "1");
      await store.setMeta("a", "2");
      assert.equal(await store.getMeta("a"), "2");
    }));

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
      assert.ok(await store.commitToken("200", 0, tokenRow("200", "k1"), T0));
      await store.putToken(tokenRow("200", "orphan", { accessToken: null, state: "orphan" }));
      assert.equal(await store.deleteChannel("200"), true);
      assert.equal(await store.deleteChannel("200"), false);
      assert.equal(await store.getChannel("200"), null);
      assert.deepEqual(await store.listTokens("200"), []);
      assert.deepEqual(await store.getCurrent("200"), { generation: 0, token: null });
      assert.equal((await store.getChannel("100"))?.channelId, "100");
    }));

    it("getCurrent on a channel never written: generation 0, no token", use(async ({ store }) => {
      assert.deepEqual(await store.getCurrent("1234567890"), { generation: 0, token: null });
    }));

    it("commitToken writes under expected+1, supersedes the previous valid token, refuses a stale generation", use(async ({ store }) => {
      const ch = "1234567890";
      assert.equal(await store.commitToken(ch, 0, tokenRow(ch, "a", { generation: 42 }), T0 + 100), true);
      let cur = await store.getCurrent(ch);
      assert.equal(cur.generation, 1);
      assert.deepEqual(cur.token, tokenRow(ch, "a", { generation: 1 }));

      // stale: nothing written
      assert.equal(await store.commitToken(ch, 0, tokenRow(ch, "stale"), T0 + 100), false);
      assert.deepEqual((await store.listTokens(ch)).map((t) => t.keyId), ["a"]);

      assert.equal(await store.commitToken(ch, 1, tokenRow(ch, "b", { issuedAt: T0 + 10, updatedAt: T0 + 10 }), T0 + 600_000), true);
      cur = await store.getCurrent(ch);
      assert.equal(cur.generation, 2);
      assert.equal(cur.token?.keyId, "b");
      assert.equal(cur.token?.generation, 2);
      const rows = await store.listTokens(ch);
      assert.deepEqual(rows.map((t) => [t.keyId, t.state, t.revokeAt, t.generation]), [
        ["b", "valid", null, 2],
        ["a", "superseded", T0 + 600_000, 1],
      ]);
      // A current token that was revoked (LINE rejected it) stays revoked when superseded.
      assert.ok(await store.setTokenState(ch, "b", "revoked"));
      assert.ok(await store.commitToken(ch, 2, tokenRow(ch, "c", { issuedAt: T0 + 20 }), T0 + 1));
      assert.equal((await store.listTokens(ch)).find((t) => t.keyId === "b")?.state, "revoked");
      assert.equal(await store.commitToken(ch, 1, tokenRow(ch, "d"), T0), false);
      assert.equal((await store.getCurrent(ch)).generation, 3);
      // replacing the channel row (new key, new policy) keeps its tokens and generation
      await store.putChannel(channelRow(ch));
      await store.putChannel(channelRow(ch, { kid: "rotated" }));
      assert.equal((await store.getCurrent(ch)).generation, 3);
      assert.equal((await store.listTokens(ch)).length, 3);
      // other channels are independent
      assert.deepEqual(await store.getCurrent("999"), { generation: 0, token: null });
    }));

    it("commitToken: concurrent commits with the same expected generation, exactly one wins", use(async ({ store, other }) => {
      const ch = "1111111111";
      const stores = [store];
      if (other) stores.push(await other(), await other());
      try {
        for (let round = 0; round < 8; round++) {
          const results = await Promise.all(
            Array.from({ length: 6 }, (_, i) => stores[i % stores.length]!.commitToken(ch, round, tokenRow(ch, `r${round}-${i}`, { issuedAt: T0 + round }), T0)),
          );
          assert.equal(results.filter(Boolean).length, 1, `round ${round}: ${results}`);
          const winner = results.indexOf(true);
          const cur = await stores[stores.length - 1]!.getCurrent(ch);
          assert.equal(cur.generation, round + 1);
          assert.equal(cur.token?.keyId, `r${round}-${winner}`);
        }
        const rows = await store.listTokens(ch);
        assert.equal(rows.length, 8, "losers wrote nothing");
        assert.equal(rows.filter((r) => r.state === "valid").length, 1);
      } finally {
        for (const s of stores.slice(1)) await s.close();
      }
    }));

    it("concurrent getCurrent of many channels: each gets its own, reads see completed commits", use(async ({ store }) => {
      const ids = Array.from({ length: 12 }, (_, i) => String(5_000_000_000 + i));
      for (const [i, id] of ids.entries()) if (i % 3 !== 0) assert.ok(await store.commitToken(id, 0, tokenRow(id, `key-${id}`), T0));
      const reads = await Promise.all(Array.from({ length: 60 }, (_, i) => store.getCurrent(ids[i % ids.length]!)));
      reads.forEach((cur, i) => {
        const id = ids[i % ids.length]!;
        if ((i % ids.length) % 3 === 0) assert.deepEqual(cur, { generation: 0, token: null });
        else assert.deepEqual([cur.generation, cur.token?.keyId, cur.token?.channelId], [1, `key-${id}`, id]);
      });
      reads[1]!.token!.state = "revoked";
      assert.equal(reads[1 + ids.length]!.token!.state, "valid", "callers get their own copies");
      for (let g = 1; g <= 5; g++) {
        assert.ok(await store.commitToken(ids[1]!, g, tokenRow(ids[1]!, `g${g}`), T0));
        const [a, b] = await Promise.all([store.getCurrent(ids[1]!), store.getCurrent(ids[1]!)]);
        assert.equal(a.generation, g + 1);
        assert.equal(b.token?.keyId, `g${g}`);
      }
    }));

    it("putToken, listTokens newest first, setTokenState, pruneTokens", use(async ({ store }) => {
      const ch = "2222222222";
      await store.putToken(tokenRow(ch, "old", { issuedAt: T0, expiresAt: T0 + 1000 }));
      await store.putToken(tokenRow(ch, "new", { issuedAt: T0 + 500, expiresAt: T0 + 5000 }));
      await store.putToken(tokenRow(ch, "orph", { accessToken: null, state: "orphan", issuedAt: T0 + 200, expiresAt: T0 + 3000 }));
      await store.putToken(tokenRow("3333333333", "elsewhere"));
      assert.deepEqual((await store.listTokens(ch)).map((t) => t.keyId), ["new", "orph", "old"]);
      assert.equal((await store.listTokens(ch))[1]!.accessToken, null);
      // putToken does not make a token current
      assert.deepEqual(await store.getCurrent(ch), { generation: 0, token: null });
      // replace
      await store.putToken(tokenRow(ch, "old", { issuedAt: T0, expiresAt: T0 + 1000, refreshAt: T0 + 7 }));
      assert.equal((await store.listTokens(ch)).find((t) => t.keyId === "old")?.refreshAt, T0 + 7);

      assert.equal(await store.setTokenState(ch, "missing", "revoked"), false);
      assert.equal(await store.setTokenState(ch, "new", "superseded", T0 + 9), true);
      let row = (await store.listTokens(ch)).find((t) => t.keyId === "new")!;
      assert.deepEqual([row.state, row.revokeAt], ["superseded", T0 + 9]);
      assert.equal(await store.setTokenState(ch, "new", "revoked"), true);
      row = (await store.listTokens(ch)).find((t) => t.keyId === "new")!;
      assert.deepEqual([row.state, row.revokeAt], ["revoked", T0 + 9], "revokeAt undefined leaves it");
      assert.equal(await store.setTokenState(ch, "new", "revoked", null), true);
      assert.equal((await store.listTokens(ch)).find((t) => t.keyId === "new")!.revokeAt, null);

      assert.equal(await store.pruneTokens(ch, T0 + 3001), 2);
      assert.deepEqual((await store.listTokens(ch)).map((t) => t.keyId), ["new"]);
      assert.equal(await store.pruneTokens(ch, T0), 0);
      assert.equal((await store.listTokens("3333333333")).length, 1);
    }));

    it("tryLock: exclusive, owner-only release and extend, expires after its TTL", use(async ({ store, other }) => {
      const peer = other ? await other() : store;
      try {
        const a = await store.tryLock("issue:1", 60_000);
        assert.ok(a);
        assert.equal(a.name, "issue:1");
        assert.equal(await peer.tryLock("issue:1", 60_000), null);
        const b = await peer.tryLock("issue:2", 60_000);
        assert.ok(b, "other names are independent");
        assert.notEqual(a.owner, b.owner);
        await a.release();
        const c = await peer.tryLock("issue:1", 60_000);
        assert.ok(c, "released lock can be taken");
        await a.release(); // stale holder: must not release c
        assert.equal(await store.tryLock("issue:1", 60_000), null);
        await c.release();
        await b.release();

        // extend: keeps the holder's lock alive past its first TTL
        // (TTL 800 ms, extended every 300 ms: 1.2 s in all, with 500 ms to spare at each step.)
        const kept = await store.tryLock("issue:4", 800);
        assert.ok(kept);
        for (let i = 0; i < 4; i++) {
          await new Promise((r) => setTimeout(r, 300));
          assert.equal(await kept.extend(800), true, `extend ${i}`);
          assert.equal(await peer.tryLock("issue:4", 60_000), null, `still held after ${(i + 1) * 300} ms`);
        }
        await kept.release();
        assert.equal(await kept.extend(800), false, "a released lock is not extended");

        const short = await store.tryLock("issue:3", 40);
        assert.ok(short);
        let taken: Awaited<ReturnType<Store["tryLock"]>> = null;
        await eventually(async () => (taken = await peer.tryLock("issue:3", 60_000)) !== null, "expired lock taken over");
        assert.equal(await short.extend(60_000), false, "an expired holder cannot take the lock back");
        await short.release(); // expired holder: must not release the new holder
        assert.equal(await store.tryLock("issue:3", 60_000), null);
        await taken!.release();
      } finally {
        if (peer !== store) await peer.close();
      }
    }));

    it("markOnce: true once, false while remembered, true again after the TTL; isMarked reads without marking", use(async ({ store, other }) => {
      assert.equal(await store.isMarked("evt-1"), false);
      assert.equal(await store.isMarked("evt-1"), false);
      assert.equal(await store.markOnce("evt-1", 60_000), true);
      assert.equal(await store.isMarked("evt-1"), true);
      assert.equal(await store.markOnce("evt-1", 60_000), false);
      if (other) {
        const s2 = await other();
        assert.equal(await s2.isMarked("evt-1"), true);
        assert.equal(await s2.markOnce("evt-1", 60_000), false);
        await s2.close();
      }
      assert.equal(await store.markOnce("evt-2", 60_000), true);
      assert.equal(await store.markOnce("evt-short", 40), true);
      await eventually(async () => !(await store.isMarked("evt-short")), "isMarked forgets after the TTL");
      assert.equal(await store.markOnce("evt-short", 60_000), true, "markOnce forgets after its TTL");
      assert.equal(await store.markOnce("evt-short", 60_000), false);
      // concurrent marks of one key: exactly one first
      const results = await Promise.all(Array.from({ length: 10 }, () => store.markOnce("evt-race", 60_000)));
      assert.equal(results.filter(Boolean).length, 1);
      // several keys at once, one of them already marked, one repeated: each answered on its own
      assert.deepEqual(await Promise.all(["evt-z", "evt-2", "evt-a", "evt-z"].map((k) => store.markOnce(k, 60_000))), [true, false, true, false]);
    }));

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
  });
}
