import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { clearFaults, emulatorJson, injectFault, tokenLedger } from "../helpers/emulator.ts";
import { KagiyaError } from "../../src/core/errors.ts";
import { TokenUnavailableError } from "../../src/tokens/errors.ts";
import { allBackends } from "./backends.ts";
import { tokenWorld } from "./setup.ts";
import { TokenManager } from "../../src/tokens/manager.ts";
import { lineTokenApi } from "../../src/tokens/line.ts";

for (const backend of await allBackends()) describe(backend.name, { skip: backend.skip }, () => {

async function faultHits(url: string, id: number): Promise<number> {
  const { body } = await emulatorJson(url, "GET", "/__emulator/faults");
  return (body.faults as Array<{ id: number; hits: number }>).find((f) => f.id === id)?.hits ?? -1;
}

test("503, resets, then 429 Retry-After for 10 emulated minutes past the refresh point: 0 failed get(), nothing sent before Retry-After", async (t) => {
  const w = await tokenWorld({ backend });
  t.after(() => clearFaults(w.emu.url));
  const sleeps: number[] = [];
  const m = w.manager({ line: { sleep: async (ms: number) => void sleeps.push(ms) } });
  const id = w.channel.channelId;
  const first = await m.get(id);
  const refreshAt = (await m.refreshAt(id))!;
  await w.clock.advance(Math.ceil((refreshAt - w.clock.now()) / 1000) + 1);

  // Every v2.1 endpoint fails: first a 503, then two resets, then 429s asking for 120 s.
  const f503 = await injectFault(w.emu.url, { method: "*", path: "/oauth2/v2.1/*", status: 503, count: 1 });
  const fReset = await injectFault(w.emu.url, { method: "*", path: "/oauth2/v2.1/*", reset: true, count: 2 });
  const f429 = await injectFault(w.emu.url, { method: "*", path: "/oauth2/v2.1/*", status: 429, retryAfter: 120 });

  let failed = 0;
  let served = 0;
  let hits429 = 0;
  let last429At = -Infinity;
  const start = w.clock.now();
  while (w.clock.now() - start < 10 * 60_000) {
    const got = await Promise.allSettled(Array.from({ length: 20 }, () => m.get(id)));
    for (const g of got) {
      if (g.status === "rejected") failed++;
      else {
        served++;
        assert.equal(g.value.keyId, first.keyId);
      }
    }
    const h = await faultHits(w.emu.url, f429);
    if (h !== -1 && h > hits429) {
      assert.equal(h, hits429 + 1, "one request per attempt");
      assert.ok(w.clock.now() >= last429At + 120_000, "asked LINE again before Retry-After ended");
      last429At = w.clock.now();
      hits429 = h;
    }
    await w.clock.advance(15);
  }
  assert.equal(failed, 0);
  assert.ok(served > 0);
  assert.equal(await faultHits(w.emu.url, f503), -1, "the 503 was consumed");
  assert.equal(await faultHits(w.emu.url, fReset), -1, "both resets were consumed");
  assert.ok(hits429 >= 3 && hits429 <= 5, `429 hit ${hits429} times in 10 minutes`);
  assert.deepEqual(sleeps, [], "the manager never sleeps through a retry");
  // Only the 503 and resets could have issued anything; the emulator issued nothing meanwhile.
  assert.equal((await tokenLedger(w.emu.url, id)).length, 1);
  const status = await m.status(id);
  assert.equal(status.lastError?.code, "ERR_LINE_RATE_LIMITED");

  await clearFaults(w.emu.url);
  await w.clock.advance(121);
  const next = await m.get(id);
  assert.notEqual(next.keyId, first.keyId);
  const ledger = await tokenLedger(w.emu.url, id);
  assert.equal(ledger.length, 2);
});

test("Retry-After seen by one process is honoured by every process sharing the store", async (t) => {
  const w = await tokenWorld({ backend });
  t.after(() => clearFaults(w.emu.url));
  const id = w.channel.channelId;
  const a = w.manager();
  const first = await a.get(id);
  await w.clock.advance(Math.ceil(((await a.refreshAt(id))! - w.clock.now()) / 1000) + 1);
  const f429 = await injectFault(w.emu.url, { method: "*", path: "/oauth2/v2.1/*", status: 429, retryAfter: 120 });
  assert.equal((await a.get(id)).keyId, first.keyId);
  assert.equal(await faultHits(w.emu.url, f429), 1);
  const other = await w.reopen();
  const b = new TokenManager({ registry: other.registry, line: lineTokenApi({ baseUrl: w.emu.url, now: w.clock.now }), now: w.clock.now });
  await w.clock.advance(60);
  assert.equal((await b.get(id)).keyId, first.keyId, "the other process serves the valid token");
  assert.equal(await faultHits(w.emu.url, f429), 1, "and does not ask LINE before Retry-After ends");
  await w.clock.advance(61);
  assert.equal((await b.get(id)).keyId, first.keyId);
  assert.equal(await faultHits(w.emu.url, f429), 2, "after Retry-After it asks again");
  await clearFaults(w.emu.url);
  await w.clock.advance(121);
  assert.notEqual((await b.get(id)).keyId, first.keyId);
});

test("LINE down past expiry: get() fails at once with a typed error, without retry sleeps, and other channels are unaffected", async (t) => {
  const w = await tokenWorld({ backend, policy: { lifetimeSeconds: 3600 } });
  t.after(() => clearFaults(w.emu.url));
  const other = await w.addChannel({ lifetimeSeconds: 30 * 86400 });
  const sleeps: number[] = [];
  const m = w.manager({ line: { sleep: async (ms: number) => void sleeps.push(ms) } });
  await m.get(w.channel.channelId);
  const otherToken = await m.get(other.channelId);
  const down = await injectFault(w.emu.url, { method: "POST", path: "/oauth2/v2.1/token", status: 503 });
  await w.clock.advance(2 * 3600);

  await assert.rejects(m.get(w.channel.channelId), (e: unknown) => e instanceof TokenUnavailableError && e.code === "ERR_TOKEN_UNAVAILABLE" && e.upstreamCode === "ERR_LINE_SERVER");
  assert.equal(await faultHits(w.emu.url, down), 1);
  // Known down: the next calls fail without asking LINE at all.
  const again = await Promise.allSettled(Array.from({ length: 50 }, () => m.get(w.channel.channelId)));
  for (const r of again) {
    assert.equal(r.status, "rejected");
    const e = (r as PromiseRejectedResult).reason;
    assert.ok(e instanceof KagiyaError && e.code === "ERR_TOKEN_UNAVAILABLE");
    assert.ok(e instanceof TokenUnavailableError && e.retryAt > w.clock.now());
    assert.ok(!e.message.includes(otherToken.accessToken));
  }
  assert.equal(await faultHits(w.emu.url, down), 1);
  assert.deepEqual(sleeps, []);
  // The other channel keeps being served.
  assert.equal((await m.get(other.channelId)).accessToken, otherToken.accessToken);
  // When the backoff ends and LINE is back, the channel recovers. The 503 was ambiguous, so the
  // valid key IDs are checked first.
  await clearFaults(w.emu.url);
  await w.clock.advance(600);
  const back = await m.get(w.channel.channelId);
  assert.ok(back.expiresAt > w.clock.now());
  const audit = await w.store.listAudit({ channelId: w.channel.channelId });
  assert.ok(audit.some((a) => a.action === "token.reconcile"), "valid key IDs checked after the ambiguous failure");
});
});
