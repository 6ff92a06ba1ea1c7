import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { clearFaults, injectFault, issueTestToken, postForm, tokenLedger } from "../helpers/emulator.ts";
import { StoreError } from "../../src/store/errors.ts";
import type { Store } from "../../src/store/types.ts";
import { TokenBudgetExhaustedError, TokenNotFoundError, TokenUnavailableError } from "../../src/tokens/errors.ts";
import { TokenManager } from "../../src/tokens/manager.ts";
import { ChannelRegistry } from "../../src/store/registry.ts";
import { lineTokenApi } from "../../src/tokens/line.ts";
import { allBackends } from "./backends.ts";
import { startMutatingProxy, type Mutation } from "./proxy.ts";
import { tokenWorld, type TokenWorld } from "./setup.ts";

/** Issues a token for the channel straight at the emulator, behind kagiya's back. */
function issueBehindTheBack(w: TokenWorld): Promise<{ access_token: string; key_id: string }> {
  return issueTestToken(w.emu.url, w.channel, { exp: Math.floor(w.clock.now() / 1000) + 600 });
}

for (const backend of await allBackends()) describe(backend.name, { skip: backend.skip }, () => {
  test("invalidate() after a 401 from many callers in two processes leads to exactly one re-issue", async () => {
    const w = await tokenWorld({ backend });
    const id = w.channel.channelId;
    const a = w.manager();
    const other = await w.reopen();
    const b = new TokenManager({ registry: other.registry, line: lineTokenApi({ baseUrl: w.emu.url, now: w.clock.now }), now: w.clock.now });
    const t1 = await a.get(id);
    assert.equal((await b.get(id)).keyId, t1.keyId);
    // LINE stops accepting the token (revoked elsewhere): every holder reports the 401.
    const r = await postForm(`${w.emu.url}/oauth2/v2.1/revoke`, { client_id: id, client_secret: w.channel.channelSecret, access_token: t1.accessToken });
    assert.equal(r.status, 200);
    const again = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const m = i % 2 === 0 ? a : b;
        await m.invalidate(id, t1.keyId);
        return m.get(id);
      }),
    );
    const ledger = await tokenLedger(w.emu.url, id);
    assert.equal(ledger.length, 2);
    for (const t of again) assert.equal(t.keyId, ledger[1]!.key_id);
    // A late report of the same old key changes nothing.
    await a.invalidate(id, t1.keyId);
    assert.equal((await a.get(id)).keyId, ledger[1]!.key_id);
    assert.equal((await tokenLedger(w.emu.url, id)).length, 2);
  });

  test("invalidate() of a token LINE still counts revokes it there too, so it stops using the budget", async () => {
    const w = await tokenWorld({ backend });
    const id = w.channel.channelId;
    const m = w.manager();
    const t1 = await m.get(id);
    await m.invalidate(id, t1.keyId); // a spurious 401 (e.g. a proxy in the way)
    const t2 = await m.get(id);
    const ledger = await tokenLedger(w.emu.url, id);
    assert.deepEqual(ledger.map((t) => [t.key_id, t.state]), [[t1.keyId, "revoked"], [t2.keyId, "valid"]]);
    assert.equal((await m.reconcile(id)).budgetUsed, 1);
  });

  test("invalidate() while LINE's revoke endpoint fails: the token is never served again, still counted, and maintenance revokes it later", async () => {
    const w = await tokenWorld({ backend });
    const id = w.channel.channelId;
    const m = w.manager();
    const t1 = await m.get(id);
    await injectFault(w.emu.url, { method: "POST", path: "/oauth2/v2.1/revoke", status: 500 });
    try {
      await m.invalidate(id, t1.keyId);
      const row = (await w.store.listTokens(id)).find((r) => r.keyId === t1.keyId)!;
      assert.equal(row.state, "superseded");
      assert.ok(row.revokeAt !== null && row.revokeAt <= w.clock.now());
      const t2 = await m.get(id);
      assert.notEqual(t2.keyId, t1.keyId);
      assert.equal((await m.status(id)).budgetUsed, 2, "LINE still counts the invalidated token");
    } finally {
      await clearFaults(w.emu.url);
    }
    const report = await m.maintainChannel(id);
    assert.deepEqual(report.revoked, [t1.keyId]);
    assert.equal((await w.store.listTokens(id)).find((r) => r.keyId === t1.keyId)!.state, "revoked");
    assert.equal((await tokenLedger(w.emu.url, id)).find((r) => r.key_id === t1.keyId)!.state, "revoked");
  });

  test("revoke(one) and revoke(all) revoke at LINE and in the store; unknown key IDs are a typed error", async () => {
    const w = await tokenWorld({ backend });
    const id = w.channel.channelId;
    const m = w.manager();
    const t1 = await m.get(id);
    const t2 = await m.issue(id, { actor: "cli" });
    assert.notEqual(t1.keyId, t2.keyId);
    assert.equal((await m.get(id)).keyId, t2.keyId);
    const one = await m.revoke(id, t1.keyId, { actor: "cli" });
    assert.deepEqual(one.revoked, [t1.keyId]);
    await assert.rejects(m.revoke(id, "no-such-key"), TokenNotFoundError);
    const all = await m.revoke(id, "all");
    assert.deepEqual(all.revoked, [t2.keyId]);
    const ledger = await tokenLedger(w.emu.url, id);
    assert.deepEqual(ledger.map((t) => t.state), ["revoked", "revoked"]);
    assert.deepEqual((await w.store.listTokens(id)).map((t) => t.state), ["revoked", "revoked"]);
    // The next get() issues a fresh one.
    const t3 = await m.get(id);
    assert.equal((await tokenLedger(w.emu.url, id)).at(-1)!.key_id, t3.keyId);
    const audit = await w.store.listAudit({ channelId: id });
    assert.ok(audit.some((a) => a.action === "token.revoke" && a.actor === "cli" && a.keyId === t1.keyId));
  });

  test("reconcile() marks tokens LINE no longer lists revoked, records orphans, reports the budget", async () => {
    const w = await tokenWorld({ backend });
    const id = w.channel.channelId;
    const m = w.manager();
    const t1 = await m.get(id);
    const stray1 = await issueBehindTheBack(w);
    const stray2 = await issueBehindTheBack(w);
    await postForm(`${w.emu.url}/oauth2/v2.1/revoke`, { client_id: id, client_secret: w.channel.channelSecret, access_token: t1.accessToken });
    const report = await m.reconcile(id, { actor: "cli" });
    assert.deepEqual(report.markedRevoked, [t1.keyId]);
    assert.deepEqual([...report.orphans].sort(), [stray1.key_id, stray2.key_id].sort());
    assert.equal(report.budgetUsed, 2);
    assert.equal(report.budgetLeft, 28);
    const rows = await w.store.listTokens(id);
    assert.equal(rows.find((r) => r.keyId === t1.keyId)?.state, "revoked");
    for (const k of [stray1.key_id, stray2.key_id]) {
      const r = rows.find((x) => x.keyId === k)!;
      assert.equal(r.state, "orphan");
      assert.equal(r.accessToken, null);
    }
    const status = await m.status(id);
    assert.equal(status.budgetUsed, 2);
    // The revoked current token is not served: get() issues anew.
    const t2 = await m.get(id);
    assert.notEqual(t2.keyId, t1.keyId);
    assert.equal((await m.status(id)).budgetUsed, 3);
  });

  test("orphans count until LINE lets them go: maintain() re-asks LINE (hourly at most) and frees the budget", async () => {
    const w = await tokenWorld({ backend });
    const id = w.channel.channelId;
    const m = w.manager();
    await m.get(id);
    for (let i = 0; i < 3; i++) await issueTestToken(w.emu.url, w.channel, { exp: Math.floor(w.clock.now() / 1000) + 600, token_exp: 3600 });
    assert.equal((await m.reconcile(id)).orphans.length, 3);
    assert.equal((await m.status(id)).budgetUsed, 4, "orphans are counted for up to 30 days");
    await m.maintainChannel(id);
    assert.equal((await m.status(id)).budgetUsed, 4, "not re-asked within the hour");
    await w.clock.advance(2 * 3600);
    await m.maintainChannel(id);
    const status = await m.status(id);
    assert.equal(status.budgetUsed, 1);
    assert.deepEqual(status.tokens.filter((t) => t.state === "orphan"), []);
  });

  test("the 30-token cap: orphans count, a typed error instead of a 31st request, none in the ledger", async () => {
    const w = await tokenWorld({ backend });
    const id = w.channel.channelId;
    const m = w.manager();
    await m.get(id);
    for (let i = 0; i < 28; i++) await issueBehindTheBack(w);
    const report = await m.reconcile(id);
    assert.equal(report.orphans.length, 28);
    assert.equal(report.budgetLeft, 1);
    await m.issue(id); // the 30th
    assert.equal((await tokenLedger(w.emu.url, id)).length, 30);
    await assert.rejects(m.issue(id), (e: unknown) => e instanceof TokenBudgetExhaustedError && e.code === "ERR_TOKEN_BUDGET_EXHAUSTED" && e.used === 30);
    assert.equal((await tokenLedger(w.emu.url, id)).length, 30);
    assert.equal((await m.status(id)).budgetUsed, 30);
  });

  test("the cap reached behind kagiya's back: LINE's refusal becomes the same typed error, nothing issued", async () => {
    const w = await tokenWorld({ backend });
    const id = w.channel.channelId;
    for (let i = 0; i < 30; i++) await issueBehindTheBack(w);
    const m = w.manager();
    await assert.rejects(m.get(id), (e: unknown) => e instanceof TokenBudgetExhaustedError && e.code === "ERR_TOKEN_BUDGET_EXHAUSTED");
    await assert.rejects(m.get(id), TokenBudgetExhaustedError);
    assert.equal((await tokenLedger(w.emu.url, id)).length, 30);
    const report = await m.reconcile(id);
    assert.equal(report.orphans.length, 30);
    assert.equal(report.budgetLeft, 0);
  });

  test("a truncated issue answer: nothing stored, the previous token still served, the orphan found before the next attempt", async (t) => {
    const w = await tokenWorld({ backend });
    t.after(() => clearFaults(w.emu.url));
    const id = w.channel.channelId;
    const m = w.manager();
    const t1 = await m.get(id);
    await w.clock.advance(Math.ceil(((await m.refreshAt(id))! - w.clock.now()) / 1000) + 1);
    await injectFault(w.emu.url, { method: "POST", path: "/oauth2/v2.1/token", truncate: true, count: 1 });
    const served = await Promise.all(Array.from({ length: 20 }, () => m.get(id)));
    for (const s of served) assert.equal(s.accessToken, t1.accessToken);
    const ledger = await tokenLedger(w.emu.url, id);
    assert.equal(ledger.length, 2, "LINE issued a token nobody could read");
    assert.deepEqual((await w.store.listTokens(id)).map((r) => r.keyId), [t1.keyId]);
    assert.equal((await m.status(id)).lastError?.code, "ERR_LINE_BAD_RESPONSE");
    await w.clock.advance(600);
    const t2 = await m.get(id);
    const rows = await w.store.listTokens(id);
    assert.equal(rows.find((r) => r.keyId === ledger[1]!.key_id)?.state, "orphan");
    assert.equal(rows.find((r) => r.keyId === t2.keyId)?.state, "valid");
    assert.equal((await m.status(id)).budgetUsed, 3);
  });

  for (const mode of ["missing-key_id", "nonnumeric-expires_in", "html"] as Mutation[]) {
    test(`a mutated issue answer (${mode}): nothing stored, the previous token still served`, async () => {
      const w = await tokenWorld({ backend });
      const proxy = await startMutatingProxy(w.emu.url);
      after(() => proxy.close());
      const id = w.channel.channelId;
      const m = w.manager({ line: lineTokenApi({ baseUrl: proxy.url, now: w.clock.now }) });
      const t1 = await m.get(id);
      await w.clock.advance(Math.ceil(((await m.refreshAt(id))! - w.clock.now()) / 1000) + 1);
      proxy.mode = mode;
      const served = await m.get(id);
      assert.equal(served.accessToken, t1.accessToken);
      assert.deepEqual((await w.store.listTokens(id)).map((r) => r.keyId), [t1.keyId]);
      assert.equal((await m.status(id)).lastError?.code, "ERR_LINE_BAD_RESPONSE");
      for (const r of await w.store.listTokens(id)) assert.equal(r.state, "valid");
    });
  }

  test("a lock holder stalled past its lock's expiry: its late write is rejected and its token revoked", async () => {
    const w = await tokenWorld({ backend });
    const id = w.channel.channelId;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let issueSeen!: () => void;
    const issued = new Promise<void>((r) => (issueSeen = r));
    const base: typeof fetch = (input, init) => fetch(input, init);
    const stalled: typeof fetch = async (input, init) => {
      const res = await base(input, init);
      if (String(input).endsWith("/oauth2/v2.1/token")) {
        issueSeen();
        await gate; // LINE answered; this process now stalls (GC pause, VM freeze) with the lock expiring
      }
      return res;
    };
    // A frozen process runs no timers either: its locks are not extended while it stalls.
    const frozenStore = new Proxy(w.store, {
      get(target, prop, receiver) {
        if (prop === "tryLock") {
          return async (name: string, ttlMs: number) => {
            const lock = await target.tryLock(name, ttlMs);
            return lock && { name: lock.name, owner: lock.owner, release: () => lock.release(), extend: async () => true };
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const frozenRegistry = new ChannelRegistry(frozenStore, w.registry.sealer, { now: w.clock.now });
    const a = new TokenManager({ registry: frozenRegistry, line: lineTokenApi({ baseUrl: w.emu.url, now: w.clock.now, fetch: stalled }), now: w.clock.now, lockTtlMs: 200 });
    const other = await w.reopen();
    const b = new TokenManager({ registry: other.registry, line: lineTokenApi({ baseUrl: w.emu.url, now: w.clock.now, fetch: base }), now: w.clock.now, lockTtlMs: 200 });
    const pa = a.get(id);
    await issued;
    const tb = await b.get(id); // waits out A's lock, then issues and commits
    release();
    const ta = await pa;
    assert.equal(ta.keyId, tb.keyId, "the stalled issuer serves the newer token");
    const ledger = await tokenLedger(w.emu.url, id);
    assert.equal(ledger.length, 2);
    assert.equal(ledger[0]!.state, "revoked", "the stalled issuer's token was revoked");
    assert.equal(ledger[1]!.key_id, tb.keyId);
    const cur = await w.store.getCurrent(id);
    assert.equal(cur.token?.keyId, tb.keyId);
    assert.equal(cur.generation, 1);
    const audit = await w.store.listAudit({ channelId: id });
    assert.ok(audit.some((x) => x.action === "token.revoke" && x.keyId === ledger[0]!.key_id && /late write rejected/.test(x.detail ?? "")));
  });

  test("an issuance slower than the lock's TTL keeps its lock: a second process waits and issues nothing", async () => {
    const w = await tokenWorld({ backend });
    const id = w.channel.channelId;
    // LINE takes 2.5 s to answer; the issue lock lives 1 s unless its holder extends it.
    await injectFault(w.emu.url, { method: "POST", path: "/oauth2/v2.1/token", delayMs: 2500, count: 1 });
    const a = w.manager({ lockTtlMs: 1000 });
    const other = await w.reopen();
    const b = new TokenManager({ registry: other.registry, line: lineTokenApi({ baseUrl: w.emu.url, now: w.clock.now }), now: w.clock.now, lockTtlMs: 1000, lockWaitMs: 10_000 });
    try {
      const pa = a.get(id);
      await new Promise((r) => setTimeout(r, 1500)); // A's lock would have expired by now
      const [ta, tb] = await Promise.all([pa, b.get(id)]);
      assert.equal(ta.keyId, tb.keyId);
      assert.equal((await tokenLedger(w.emu.url, id)).length, 1, "one issuance");
    } finally {
      await other.store.close();
    }
  });

  test("a lock held by a dead process: at the refresh point the valid token is served without waiting out the lock; cold, a typed error after lockWaitMs", async () => {
    const w = await tokenWorld({ backend });
    const id = w.channel.channelId;
    const m = w.manager({ refreshWaitMs: 50, lockWaitMs: 200 });
    const t1 = await m.get(id);
    await w.clock.advance(Math.ceil(((await m.refreshAt(id))! - w.clock.now()) / 1000) + 1);
    const dead = await w.store.tryLock(`tokens.issue.${id}`, 60_000); // its holder died
    assert.ok(dead);
    assert.equal((await m.get(id)).keyId, t1.keyId);
    assert.equal((await tokenLedger(w.emu.url, id)).length, 1);
    await dead.release();
    await w.clock.advance(1);
    assert.notEqual((await m.get(id)).keyId, t1.keyId);

    const cold = await w.addChannel();
    const held = await w.store.tryLock(`tokens.issue.${cold.channelId}`, 60_000);
    assert.ok(held);
    await assert.rejects(m.get(cold.channelId), (e: unknown) => e instanceof TokenUnavailableError && e.upstreamCode === "ERR_TOKEN_LOCK_TIMEOUT");
    await held.release();
  });

  test("the store fails to write a new token: it is kept in memory and handed out (not revoked), its intent left in the store; written once the store writes again", async () => {
    const w = await tokenWorld({ backend });
    const id = w.channel.channelId;
    let fail = true;
    const failing: Store = new Proxy(w.store, {
      get(target, prop, receiver) {
        if (prop === "commitToken" && fail) return async () => { throw new StoreError(`${target.kind} store: write failed (injected)`); };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const { ChannelRegistry } = await import("../../src/store/registry.ts");
    const { Sealer, MasterKey } = await import("../../src/store/sealed.ts");
    const registry = await ChannelRegistry.open(failing, new Sealer(MasterKey.parse(w.masterKey)));
    const m = new TokenManager({ registry, line: lineTokenApi({ baseUrl: w.emu.url, now: w.clock.now }), now: w.clock.now });
    const kept = await m.get(id);
    const ledger = await tokenLedger(w.emu.url, id);
    assert.deepEqual(ledger.map((r) => [r.key_id, r.state]), [[kept.keyId, "valid"]]);
    assert.deepEqual(await w.store.listTokens(id), []);
    assert.notEqual(await w.store.getIssueIntent(id), null, "a reconcile elsewhere would record it");
    assert.equal((await m.get(id)).keyId, kept.keyId);
    assert.equal((await m.status(id)).grant ?? null, null, "no grant shown for a kind without one");
    // The store writes again: maintenance stores the kept token, LINE is not asked again.
    fail = false;
    assert.equal((await m.maintainChannel(id)).error, null);
    assert.equal((await w.store.getCurrent(id)).token?.keyId, kept.keyId);
    assert.equal(await w.store.getIssueIntent(id), null);
    assert.equal((await tokenLedger(w.emu.url, id)).length, 1);
  });
});
