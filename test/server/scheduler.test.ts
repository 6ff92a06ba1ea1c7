import { test } from "node:test";
import assert from "node:assert/strict";
import { request, startTestBroker, testApiKey } from "./helpers.ts";
import { clearFaults, injectFault, tokenLedger } from "../helpers/emulator.ts";

async function until<T>(what: string, f: () => Promise<T | undefined | false>, tries = 600): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await f();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}

test("the scheduler warms new channels, refreshes at the refresh point once, and revokes the old token after the grace", async () => {
  let offset = 0;
  // One instance: nothing to split with others, so no spread of due times (it would only add up to 2 s a step).
  const t = await startTestBroker({ channels: 3, server: { now: () => Date.now() + offset, scheduler: { tickMs: 20, gapMs: 5, spreadMs: 0 } } });
  try {
    const [a] = t.channels;
    // Warm-up: every channel gets its first token without any read.
    for (const ch of t.channels) await until(`first token of ${ch.channelId}`, async () => (await tokenLedger(t.emu.url, ch.channelId)).length === 1);
    const { key } = await testApiKey(t.store, [a!.channelId]);
    const first = await request(`${t.url}/v1/channels/${a!.channelId}/token`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(first.status, 200);
    const status = await t.broker.manager.status(a!.channelId);
    const refreshAt = status.tokens[0]!.refreshAt;

    // Move kagiya's clock just past the refresh point: the scheduler replaces the token once.
    offset = refreshAt - Date.now() + 1000;
    await until("refresh", async () => (await tokenLedger(t.emu.url, a!.channelId)).length >= 2);
    const ledger = await tokenLedger(t.emu.url, a!.channelId);
    assert.equal(ledger.length, 2);
    const second = await request(`${t.url}/v1/channels/${a!.channelId}/token`, { headers: { authorization: `Bearer ${key}` } });
    assert.notEqual(second.body.key_id, first.body.key_id);
    assert.equal(ledger.find((r) => r.key_id === first.body.key_id)!.state, "valid");

    // Past the revoke grace (10 minutes by default): the superseded token is revoked at LINE.
    offset += 11 * 60_000;
    await until("revocation", async () => (await tokenLedger(t.emu.url, a!.channelId)).find((r) => r.key_id === first.body.key_id)!.state === "revoked");
    const audit = await t.store.listAudit({ channelId: a!.channelId, limit: 100 });
    assert.ok(audit.some((r) => r.action === "token.revoke" && r.actor === "scheduler" && r.keyId === first.body.key_id), JSON.stringify(audit));
    assert.ok(audit.some((r) => r.action === "token.refresh" && r.actor === "scheduler" && r.keyId === second.body.key_id), JSON.stringify(audit));
    assert.equal((await tokenLedger(t.emu.url, a!.channelId)).length, 2);
    const ready = await request(`${t.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(ready.body.scheduler, "ok");
  } finally {
    await t.close();
  }
});

test("readyz reports the scheduler stopped after close begins, and healthz stays simple", async () => {
  const t = await startTestBroker({ server: { scheduler: { tickMs: 20 } } });
  try {
    assert.deepEqual((await request(`${t.url}/healthz`)).body, { status: "ok" });
    assert.equal((await request(`${t.url}/readyz`)).status, 200);
    await t.broker.scheduler!.stop();
    const r = await request(`${t.url}/readyz`);
    assert.equal(r.status, 503);
    assert.equal(r.body.scheduler, "stopped");
  } finally {
    await t.close();
  }
});

test("at the refresh point a read gets the current token at once while the refresh waits on a slow LINE", async () => {
  let offset = 0;
  const t = await startTestBroker({ server: { now: () => Date.now() + offset, scheduler: false } });
  try {
    const [a] = t.channels;
    const { key } = await testApiKey(t.store, [a!.channelId]);
    const get = () => request(`${t.url}/v1/channels/${a!.channelId}/token`, { headers: { authorization: `Bearer ${key}` } });
    const first = await get();
    const refreshAt = (await t.broker.manager.status(a!.channelId)).tokens[0]!.refreshAt;
    offset = refreshAt - Date.now() - 10_000;
    assert.equal((await get()).body.key_id, first.body.key_id);
    // LINE now takes 3 s to issue; kagiya's clock passes the refresh point.
    await injectFault(t.emu.url, { method: "POST", path: "/oauth2/v2.1/token", delayMs: 3000 });
    offset = refreshAt - Date.now() + 1000;
    const during = await get();
    assert.equal(during.status, 200);
    assert.equal(during.body.key_id, first.body.key_id);
    assert.equal((await tokenLedger(t.emu.url, a!.channelId)).length, 1, "the refresh was still in flight");
    await until("refreshed token", async () => (await get()).body.key_id !== first.body.key_id, 400);
    assert.equal((await tokenLedger(t.emu.url, a!.channelId)).length, 2);
  } finally {
    await clearFaults(t.emu.url);
    await t.close();
  }
});
