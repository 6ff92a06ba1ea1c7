import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { tokenLedger } from "../helpers/emulator.ts";
import { allBackends } from "./backends.ts";
import { recheckWatch, tokenWorld } from "./setup.ts";

for (const backend of await allBackends()) describe(backend.name, { skip: backend.skip }, () => {

test("get() on a cold channel issues once for 200 concurrent callers and stores token + key_id", async () => {
  const w = await tokenWorld({ backend });
  const m = w.manager();
  const results = await Promise.all(Array.from({ length: 200 }, () => m.get(w.channel.channelId)));
  const ledger = await tokenLedger(w.emu.url, w.channel.channelId);
  assert.equal(ledger.length, 1);
  for (const r of results) assert.equal(r.accessToken, ledger[0]!.access_token);
  assert.equal(results[0]!.keyId, ledger[0]!.key_id);
  const cur = await w.store.getCurrent(w.channel.channelId);
  assert.equal(cur.token?.keyId, ledger[0]!.key_id);
  assert.notEqual(cur.token?.accessToken, ledger[0]!.access_token, "sealed at rest");
  // A second manager (another process's view) reads it from the store without issuing.
  const t2 = await w.manager().get(w.channel.channelId);
  assert.equal(t2.accessToken, ledger[0]!.access_token);
  assert.equal((await tokenLedger(w.emu.url, w.channel.channelId)).length, 1);
});

test("peek() answers get()'s in-memory token without waiting, also while it is re-checked, and nothing past the stale window or once the token is invalidated", async () => {
  const w = await tokenWorld({ backend });
  const watch = recheckWatch();
  const m = w.manager({ observer: watch.observer });
  const id = w.channel.channelId;
  assert.equal(m.peek(id), undefined, "cold: nothing in memory");
  const t = await m.get(id);
  assert.equal(m.peek(id), t);
  await w.clock.advance(6);
  assert.equal(m.peek(id), t, "past the 5 s check: still from memory, re-checked in the background");
  await watch.settled(1);
  assert.equal(m.peek(id), t, "the store confirmed it");
  await w.clock.advance(66);
  assert.equal(m.peek(id), undefined, "past the check and the 60 s stale window: get() waits for the store");
  const again = await m.get(id);
  assert.equal(again.keyId, t.keyId);
  assert.equal(m.peek(id)?.keyId, t.keyId);
  await m.invalidate(id, t.keyId);
  assert.equal(m.peek(id), undefined);
});

test("clock past the refresh point: exactly one new token, the old one revoked after the grace", async () => {
  const w = await tokenWorld({ backend });
  const m = w.manager();
  const first = await m.get(w.channel.channelId);
  const refreshAt = await m.refreshAt(w.channel.channelId);
  assert.ok(refreshAt !== null);
  const lifetime = first.expiresAt - first.issuedAt;
  const fraction = (refreshAt - first.issuedAt) / lifetime;
  assert.ok(fraction >= 0.7 && fraction <= 0.8, `refresh at ${fraction} of lifetime`);
  await w.clock.advance(Math.ceil((refreshAt - w.clock.now()) / 1000) + 1);
  const other = w.manager();
  const after = await Promise.all([...Array.from({ length: 50 }, () => m.get(w.channel.channelId)), ...Array.from({ length: 50 }, () => other.get(w.channel.channelId))]);
  let ledger = await tokenLedger(w.emu.url, w.channel.channelId);
  assert.equal(ledger.length, 2);
  for (const t of after) assert.equal(t.keyId, ledger[1]!.key_id);
  assert.equal(ledger[0]!.state, "valid", "the old token lives through the grace");
  // Before the grace ends, maintain() leaves it; after, it revokes it.
  await m.maintainAll();
  assert.equal((await tokenLedger(w.emu.url, w.channel.channelId))[0]!.state, "valid");
  await w.clock.advance(601);
  const report = await m.maintainChannel(w.channel.channelId);
  assert.deepEqual(report.revoked, [first.keyId]);
  assert.equal(report.nextAt, (await m.refreshAt(w.channel.channelId))!);
  ledger = await tokenLedger(w.emu.url, w.channel.channelId);
  assert.equal(ledger.length, 2);
  assert.equal(ledger[0]!.state, "revoked");
  assert.equal(ledger[1]!.state, "valid");
  const audit = await w.store.listAudit({ channelId: w.channel.channelId });
  assert.deepEqual(audit.map((a) => a.action).reverse(), ["token.issue", "token.refresh", "token.revoke"]);
  for (const a of audit) assert.ok(!JSON.stringify(a).includes(first.accessToken));
});
  test("observer hooks see each issue with its reason, never a token; plan() tells a scheduler what is due", async () => {
    const w = await tokenWorld({ backend });
    const id = w.channel.channelId;
    const seen: unknown[][] = [];
    const m = w.manager({
      observer: {
        issued: (...a) => void seen.push(["issued", a[0], a[1]]),
        failed: (...a) => void seen.push(["failed", ...a]),
        upstream: (endpoint, status) => void seen.push(["upstream", endpoint, status]),
      },
    });
    assert.deepEqual(await m.plan(id), { channelId: id, refreshAt: null, revokeDueAt: null, retryAt: null, nextAt: null });
    const t1 = await m.get(id);
    const p1 = await m.plan(id);
    assert.equal(p1.nextAt, p1.refreshAt);
    await w.clock.advance(Math.ceil((p1.refreshAt! - w.clock.now()) / 1000) + 1);
    const t2 = await m.get(id);
    const p2 = await m.plan(id);
    assert.ok(p2.revokeDueAt !== null && p2.revokeDueAt > w.clock.now() && p2.revokeDueAt <= w.clock.now() + 600_000);
    assert.equal(p2.nextAt, p2.revokeDueAt);
    await m.issue(id);
    await m.invalidate(id, (await m.get(id)).keyId);
    await m.get(id);
    assert.deepEqual(seen.filter((e) => e[0] === "issued"), [["issued", id, "cold"], ["issued", id, "refresh"], ["issued", id, "manual"], ["issued", id, "invalidated"]]);
    assert.ok(seen.some((e) => e[0] === "upstream" && e[1] === "issue" && e[2] === 200));
    const text = JSON.stringify(seen);
    assert.ok(!text.includes(t1.accessToken) && !text.includes(t2.accessToken));
  });
});
