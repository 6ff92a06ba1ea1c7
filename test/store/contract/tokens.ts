// Store contract, tokens.
import assert from "node:assert/strict";
import { it } from "node:test";
import type { CredentialStore, TokenStore } from "../../../src/store/types.ts";
import { channelRow, roleSuite, T0, tokenRow, type Closable, type StoreFactory, type SuiteOptions } from "./harness.ts";

export function runTokenContract(name: string, factory: StoreFactory<TokenStore & CredentialStore & Closable>, options: SuiteOptions = {}): void {
  roleSuite("tokens", name, factory, options, (use) => {
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

    it("setTokenState stamps updatedAt with the caller's time", use(async ({ store }) => {
      const ch = "4444444444";
      await store.putToken(tokenRow(ch, "a"));
      assert.equal(await store.setTokenState(ch, "a", "superseded", T0 + 50, T0 + 42), true);
      let row = (await store.listTokens(ch))[0]!;
      assert.deepEqual([row.state, row.revokeAt, row.updatedAt], ["superseded", T0 + 50, T0 + 42]);
      assert.equal(await store.setTokenState(ch, "a", "revoked", undefined, T0 + 43), true);
      row = (await store.listTokens(ch))[0]!;
      assert.deepEqual([row.state, row.revokeAt, row.updatedAt], ["revoked", T0 + 50, T0 + 43]);
      assert.equal(await store.setTokenState(ch, "missing", "revoked", null, T0), false);
    }));

    it("listTokensMany: each channel's getCurrent and listTokens in one call, every asked ID answered", use(async ({ store }) => {
      const ids = Array.from({ length: 450 }, (_, i) => String(3_000_000_000 + i));
      for (const [i, id] of ids.entries()) {
        if (i % 3 === 0) continue; // never written
        assert.ok(await store.commitToken(id, 0, tokenRow(id, `a${i}`), T0 + 600_000));
        if (i % 3 === 2) {
          assert.ok(await store.commitToken(id, 1, tokenRow(id, `b${i}`, { issuedAt: T0 + 10 }), T0 + 600_000));
          await store.putToken(tokenRow(id, `o${i}`, { accessToken: null, state: "orphan", issuedAt: T0 + 5 }));
        }
      }
      // The current token pruned away: the pointer's generation stays, the token reads null.
      assert.equal(await store.pruneTokens(ids[1]!, T0 + 8 * 86_400_000), 1);
      const asked = [...ids, "9999999999", ids[2]!];
      const many = await store.listTokensMany(asked);
      assert.deepEqual([...many.keys()].sort(), [...new Set(asked)].sort());
      for (const id of [...ids, "9999999999"]) {
        const got = many.get(id)!;
        assert.deepEqual({ generation: got.generation, token: got.token }, await store.getCurrent(id), id);
        assert.deepEqual(got.rows, await store.listTokens(id), id);
      }
      assert.deepEqual(many.get(ids[5]!)!.rows.map((r) => [r.keyId, r.state]), [["b5", "valid"], ["o5", "orphan"], ["a5", "superseded"]]);
      assert.deepEqual(many.get("9999999999"), { generation: 0, token: null, rows: [] });
      // Copies: changing an answer changes nothing stored.
      many.get(ids[2]!)!.token!.state = "revoked";
      assert.equal((await store.getCurrent(ids[2]!)).token?.state, "valid");
      assert.deepEqual(await store.listTokensMany([]), new Map());
    }));
  });
}
