import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { request, startTestBroker, testApiKey, type TestBroker } from "./helpers.ts";
import { tokenLedger } from "../helpers/emulator.ts";
import { revokeApiKey } from "../../src/server/apikeys.ts";

let t: TestBroker;
before(async () => {
  t = await startTestBroker({ channels: 2, server: { rateLimit: { perSecond: 1000, burst: 1000 } } });
});
after(() => t.close());

const tokenUrl = (channelId: string): string => `${t.url}/v1/channels/${channelId}/token`;
const bearer = (key: string): RequestInit => ({ headers: { authorization: `Bearer ${key}` } });

test("GET token with a scoped key returns the managed token, no-store, and issues once", async () => {
  const [a] = t.channels;
  const { key } = await testApiKey(t.store, [a!.channelId]);
  const results = await Promise.all(Array.from({ length: 20 }, () => request(tokenUrl(a!.channelId), bearer(key))));
  for (const r of results) {
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("cache-control"), "no-store");
    assert.deepEqual(Object.keys(r.body).sort(), ["access_token", "expires_at", "key_id", "token_type"]);
    assert.equal(r.body.token_type, "Bearer");
    assert.equal(r.body.access_token, results[0]!.body.access_token);
  }
  const ledger = await tokenLedger(t.emu.url, a!.channelId);
  assert.equal(ledger.length, 1);
  assert.equal(ledger[0]!.key_id, results[0]!.body.key_id);
  assert.equal(ledger[0]!.access_token, results[0]!.body.access_token);
  assert.equal(results[0]!.body.expires_at, Math.floor(ledger[0]!.expiresAt / 1000));
});

test("no key, malformed header, unknown key and revoked key all get the same 401", async () => {
  const [a] = t.channels;
  const { id, key } = await testApiKey(t.store, [a!.channelId]);
  assert.equal((await request(tokenUrl(a!.channelId), bearer(key))).status, 200);
  await revokeApiKey(t.store, id);
  const cases: RequestInit[] = [
    {},
    { headers: { authorization: "Basic Zm9vOmJhcg==" } },
    { headers: { authorization: "Bearer" } },
    { headers: { authorization: "Bearer not-a-key" } },
    bearer("kgy_" + "A".repeat(43)),
  ];
  const bodies = new Set<string>();
  for (const init of cases) {
    const r = await request(tokenUrl(a!.channelId), init);
    assert.equal(r.status, 401, JSON.stringify(init));
    assert.equal(r.body.error, "ERR_UNAUTHORIZED");
    assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer/);
    bodies.add(r.text);
  }
  assert.equal(bodies.size, 1);
  // The revoked key: refused at the latest once the 2 s lookup cache has lapsed.
  let status = 200;
  for (let i = 0; i < 50 && status === 200; i++) {
    status = (await request(tokenUrl(a!.channelId), bearer(key))).status;
    if (status === 200) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(status, 401);
});

test("a key without access gets the same 403 for another channel and for a channel that does not exist", async () => {
  const [a, b] = t.channels;
  const { key } = await testApiKey(t.store, [a!.channelId]);
  const other = await request(tokenUrl(b!.channelId), bearer(key));
  const missing = await request(tokenUrl("9999999999"), bearer(key));
  assert.equal(other.status, 403);
  assert.equal(missing.status, 403);
  assert.equal(other.text, missing.text);
  assert.equal(other.body.error, "ERR_FORBIDDEN");
  assert.equal((await tokenLedger(t.emu.url, b!.channelId)).length, 0);
});

test("a malformed channel ID gets 400 with a clear message", async () => {
  const [a] = t.channels;
  const { key } = await testApiKey(t.store, [a!.channelId]);
  const r = await request(tokenUrl("12ab"), bearer(key));
  assert.equal(r.status, 400);
  assert.equal(r.body.error, "ERR_BAD_REQUEST");
  assert.match(r.body.message, /digits/);
});

test("unknown routes and wrong methods get JSON 404 and 405", async () => {
  const r = await request(`${t.url}/nope`);
  assert.equal(r.status, 404);
  assert.equal(r.body.error, "ERR_NOT_FOUND");
  const m = await request(tokenUrl("1234567890"), { method: "DELETE" });
  assert.equal(m.status, 405);
  assert.equal(m.headers.get("allow"), "GET");
});

test("a key revoked on one instance stops working on every instance sharing the store", async () => {
  const [a] = t.channels;
  const { startBroker } = await import("../../src/server/broker.ts");
  const { Writable } = await import("node:stream");
  const second = await startBroker({ registry: t.registry, lineApiBase: t.emu.url, scheduler: false, log: { level: "silent", destination: new Writable({ write: (_c, _e, cb) => cb() }) } });
  try {
    const { id, key } = await testApiKey(t.store, [a!.channelId]);
    for (const base of [t.url, second.url]) assert.equal((await request(`${base}/v1/channels/${a!.channelId}/token`, bearer(key))).status, 200);
    // Revoked through the first instance's dashboard API path (the store), seen by both.
    await revokeApiKey(t.store, id);
    for (const base of [t.url, second.url]) {
      for (let i = 0; i < 60; i++) {
        if ((await request(`${base}/v1/channels/${a!.channelId}/token`, bearer(key))).status === 401) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal((await request(`${base}/v1/channels/${a!.channelId}/token`, bearer(key))).status, 401);
    }
  } finally {
    await second.close();
  }
});
