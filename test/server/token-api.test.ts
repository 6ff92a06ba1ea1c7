import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { request, startTestBroker, testApiKey, type TestBroker } from "./helpers.ts";
import { tokenLedger } from "../helpers/emulator.ts";
import { randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { API_KEY_PREFIX, ApiKeyAuthenticator, createApiKey, hashApiKey, revokeApiKey } from "../../src/server/apikeys.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import type { Store } from "../../src/store/types.ts";

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
  // kagiya dates expiry from just before its request, LINE from when it answers: the two may
  // straddle a second boundary.
  const drift = Math.floor(ledger[0]!.expiresAt / 1000) - (results[0]!.body.expires_at as number);
  assert.ok(drift === 0 || drift === 1, `expires_at ${results[0]!.body.expires_at} vs LINE's ${ledger[0]!.expiresAt}`);
});

test("no key, malformed header, unknown key and revoked key all get the same 401", async () => {
  const [a] = t.channels;
  const { id, key } = await testApiKey(t.store, [a!.channelId]);
  assert.equal((await request(tokenUrl(a!.channelId), bearer(key))).status, 200);
  // The scheme is case-insensitive (RFC 9110 section 11.1); the key itself is not.
  for (const scheme of ["bearer", "BEARER", "bEaReR"]) {
    assert.equal((await request(tokenUrl(a!.channelId), { headers: { authorization: `${scheme} ${key}` } })).status, 200, scheme);
  }
  await revokeApiKey(t.store, id);
  const cases: RequestInit[] = [
    {},
    { headers: { authorization: "Basic Zm9vOmJhcg==" } },
    { headers: { authorization: "Bearer" } },
    { headers: { authorization: "Bearer not-a-key" } },
    { headers: { authorization: "Bearerx" + "A".repeat(47) } },
    { headers: { authorization: `Bearer ${"kgy_" + "A".repeat(43)}`.toLowerCase() } },
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

test("a key naming many credentials (looked up in a set past eight) is scoped the same way", async () => {
  const [a, b] = t.channels;
  // Written directly: createApiKey would want the 20 other IDs registered, which scope does not need.
  const key = API_KEY_PREFIX + randomBytes(32).toString("base64url");
  const others = Array.from({ length: 20 }, (_, i) => String(1_000_000_000 + i));
  await t.store.putApiKey({ id: "ak_many", name: "many", hash: hashApiKey(key), channels: [...others, a!.channelId], createdAt: Date.now(), revokedAt: null, lastUsedAt: null });
  for (let i = 0; i < 2; i++) assert.equal((await request(tokenUrl(a!.channelId), bearer(key))).status, 200);
  const other = await request(tokenUrl(b!.channelId), bearer(key));
  assert.equal(other.status, 403);
  assert.equal(other.body.error, "ERR_FORBIDDEN");
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
  // HEAD would spend the rate limit and record a use for nothing.
  const [a] = t.channels;
  const { key } = await testApiKey(t.store, [a!.channelId]);
  const h = await fetch(tokenUrl(a!.channelId), { method: "HEAD", headers: { authorization: `Bearer ${key}` } });
  assert.equal(h.status, 405);
  assert.equal(h.headers.get("allow"), "GET");
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

test("made-up API keys: 401 until the address's failure budget is spent, then 429 without a store read; a known good key keeps working", async () => {
  const store = new MemoryStore();
  let reads = 0;
  const counting = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === "getApiKeyByHash") return (hash: string) => (reads++, target.getApiKeyByHash(hash));
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  const small = await startTestBroker({ store: counting, emu: t.emu, server: { authFailureLimit: { perSecond: 0.1, burst: 10 }, apiKeyCacheMs: 1 } });
  try {
    const [a] = small.channels;
    const { key } = await testApiKey(small.store, [a!.channelId]);
    assert.equal((await request(`${small.url}/v1/channels/${a!.channelId}/token`, bearer(key))).status, 200);
    const made = () => "kgy_" + randomBytes(32).toString("base64url");
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 30; i++) {
      const r = await request(`${small.url}/v1/channels/${a!.channelId}/token`, bearer(made()));
      statuses.push(r.status);
      if (r.status === 429) {
        retryAfter = r.headers.get("retry-after");
        assert.equal(r.body.error, "ERR_RATE_LIMITED");
      }
    }
    assert.deepEqual(statuses.slice(0, 10), Array(10).fill(401));
    assert.deepEqual(statuses.slice(10), Array(20).fill(429));
    assert.match(retryAfter ?? "", /^\d+$/);
    assert.equal(reads, 11, "one read for the good key, one per made-up key until the budget ran out");
    // A key found good before is looked up again (its cache entry is stale) despite the address's limit.
    await new Promise((r) => setTimeout(r, 5));
    assert.equal((await request(`${small.url}/v1/channels/${a!.channelId}/token`, bearer(key))).status, 200);
    assert.equal(reads, 12);
  } finally {
    await small.close();
  }
});

test("unknown keys never push a good key out of the authenticator's cache", async () => {
  let reads = 0;
  const store = new MemoryStore();
  const counting = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === "getApiKeyByHash") return (hash: string) => (reads++, target.getApiKeyByHash(hash));
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  const auth = new ApiKeyAuthenticator(counting, { cacheMs: 60_000, maxEntries: 4 });
  const good = await createApiKeyRow(store);
  assert.ok(good.startsWith("kgy_"));
  await auth.authenticate(`Bearer ${good}`);
  for (let i = 0; i < 50; i++) await assert.rejects(auth.authenticate(`Bearer kgy_${randomBytes(32).toString("base64url")}`));
  assert.equal(reads, 51);
  assert.ok(auth.cached(`Bearer ${good}`), "the good key is still cached");
});

/** A key for a registered channel in a bare store (createApiKey refuses unregistered channels). */
async function createApiKeyRow(store: Store): Promise<string> {
  // Row contents are never opened here: only its existence matters to createApiKey.
  await store.putChannel({ channelId: "1234567890", kid: "k", privateKey: "v1.x.y.z", channelSecret: "v1.x.y.z", policy: {}, kind: "line-v2.1", settings: {}, secrets: {}, createdAt: 0, updatedAt: 0 });
  return (await createApiKey(store, { channels: ["1234567890"] })).key;
}

test("two Authorization headers get the same 401 as a missing key, whichever comes first", async () => {
  const [a] = t.channels;
  const { key } = await testApiKey(t.store, [a!.channelId]);
  const send = (values: string[]) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(tokenUrl(a!.channelId), { headers: ["Host", new URL(t.url).host, ...values.flatMap((v) => ["Authorization", v])] }, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (d: string) => (body += d)).on("end", () => resolve({ status: res.statusCode!, body }));
      });
      req.on("error", reject).end();
    });
  const one = await send([`Bearer ${key}`]);
  assert.equal(one.status, 200, `one header: served (${one.status} ${one.body})`);
  const missing = await request(tokenUrl(a!.channelId));
  for (const values of [[`Bearer ${key}`, "Bearer nope"], ["Bearer nope", `Bearer ${key}`], [`Bearer ${key}`, `Bearer ${key}`]]) {
    const r = await send(values);
    assert.equal(r.status, 401, values.join(" | "));
    assert.equal(r.body, missing.text);
  }
});

test("GET /v1/credentials/{id}/token answers like /v1/channels/{id}/token, with the same scope rules", async () => {
  const [a, b] = t.channels;
  const { key } = await testApiKey(t.store, [a!.channelId]);
  const byChannel = await request(tokenUrl(a!.channelId), bearer(key));
  const byCredential = await request(`${t.url}/v1/credentials/${a!.channelId}/token`, bearer(key));
  assert.equal(byCredential.status, 200);
  assert.equal(byCredential.body.access_token, byChannel.body.access_token);
  assert.equal((await request(`${t.url}/v1/credentials/${b!.channelId}/token`, bearer(key))).status, 403);
  assert.equal((await request(`${t.url}/v1/credentials/${a!.channelId}/token`)).status, 401);
});
