// Every protected route × {no credential, malformed, wrong scope, revoked} is refused, and bad
// input gets the right 4xx JSON with nothing changed while the server keeps serving.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { request, startTestBroker, testApiKey, type TestBroker } from "./helpers.ts";
import { tokenLedger } from "../helpers/emulator.ts";
import { revokeApiKey } from "../../src/server/apikeys.ts";

const ADMIN = "test-admin-token-" + "x".repeat(20);
let t: TestBroker;
before(async () => {
  t = await startTestBroker({ channels: 2, server: { adminToken: ADMIN, bodyTimeoutMs: 300, rateLimit: { perSecond: 1000, burst: 1000 } } });
});
after(() => t.close());

async function login(): Promise<{ cookie: string; csrf: string }> {
  const r = await fetch(`${t.url}/ui/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: ADMIN }) });
  assert.equal(r.status, 200);
  const cookie = r.headers.get("set-cookie")!.split(";")[0]!;
  return { cookie, csrf: ((await r.json()) as { csrfToken: string }).csrfToken };
}

/** What must not change when a request is refused. */
async function snapshot(): Promise<string> {
  const keys = await t.store.listApiKeys();
  const tokens = await Promise.all(t.channels.map((c) => t.store.listTokens(c.channelId)));
  const ledgers = await Promise.all(t.channels.map((c) => tokenLedger(t.emu.url, c.channelId)));
  return JSON.stringify({ keys, tokens, ledgers: ledgers.map((l) => l.map((r) => [r.key_id, r.state])) });
}

test("token API: no credential, malformed, wrong scope and revoked key are refused", async () => {
  const [a, b] = t.channels;
  const good = await testApiKey(t.store, [a!.channelId]);
  const revoked = await testApiKey(t.store, [b!.channelId]);
  await revokeApiKey(t.store, revoked.id);
  const url = `${t.url}/v1/channels/${b!.channelId}/token`;
  const before = await snapshot();
  const cases: Array<[string, Record<string, string>, number]> = [
    ["no credential", {}, 401],
    ["malformed", { authorization: "Bearer kgy_%%%" }, 401],
    ["wrong scheme", { authorization: `Basic ${good.key}` }, 401],
    ["wrong scope", { authorization: `Bearer ${good.key}` }, 403],
    ["revoked", { authorization: `Bearer ${revoked.key}` }, 401],
  ];
  for (const [name, headers, status] of cases) {
    const r = await request(url, { headers });
    assert.equal(r.status, status, name);
    assert.match(r.body.error, /^ERR_/, name);
    assert.equal(typeof r.body.message, "string");
  }
  assert.equal(await snapshot(), before);
});

test("dashboard API: every route refuses no cookie, a forged cookie, an API key and a logged-out session", async () => {
  const [a] = t.channels;
  const apiKey = await testApiKey(t.store, [a!.channelId]);
  const old = await login();
  await fetch(`${t.url}/ui/api/logout`, { method: "POST", headers: { cookie: old.cookie, "x-csrf-token": old.csrf, "content-type": "application/json" }, body: "{}" });
  const routes: Array<[string, string, unknown]> = [
    ["GET", "/ui/api/session", undefined],
    ["GET", "/ui/api/channels", undefined],
    ["GET", "/ui/api/apikeys", undefined],
    ["GET", "/ui/api/audit", undefined],
    ["POST", `/ui/api/channels/${a!.channelId}/issue`, {}],
    ["POST", `/ui/api/channels/${a!.channelId}/revoke`, { keyId: "all" }],
    ["POST", `/ui/api/channels/${a!.channelId}/reconcile`, {}],
    ["POST", "/ui/api/apikeys", { channels: [a!.channelId] }],
    ["POST", `/ui/api/apikeys/${apiKey.id}/revoke`, {}],
    ["POST", "/ui/api/logout", {}],
  ];
  const credentials: Array<[string, Record<string, string>]> = [
    ["none", {}],
    ["forged cookie", { cookie: "kagiya_session=" + "A".repeat(43) }],
    ["malformed cookie", { cookie: "kagiya_session=%%%; other=1" }],
    ["API key instead of a session", { authorization: `Bearer ${apiKey.key}` }],
    ["logged-out session", { cookie: old.cookie, "x-csrf-token": old.csrf }],
  ];
  const before = await snapshot();
  for (const [method, path, body] of routes) {
    for (const [name, headers] of credentials) {
      const r = await request(t.url + path, { method, headers: { "content-type": "application/json", ...headers }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
      assert.equal(r.status, 401, `${method} ${path} with ${name}`);
      assert.equal(r.body.error, "ERR_UNAUTHORIZED");
    }
  }
  assert.equal(await snapshot(), before);
});

test("dashboard API: state-changing routes refuse a missing or wrong CSRF token and cross-origin requests, changing nothing", async () => {
  const [a] = t.channels;
  const apiKey = await testApiKey(t.store, [a!.channelId]);
  const s = await login();
  const before = await snapshot();
  const posts: Array<[string, unknown]> = [
    [`/ui/api/channels/${a!.channelId}/issue`, {}],
    [`/ui/api/channels/${a!.channelId}/revoke`, { keyId: "all" }],
    [`/ui/api/channels/${a!.channelId}/reconcile`, {}],
    ["/ui/api/apikeys", { channels: [a!.channelId] }],
    [`/ui/api/apikeys/${apiKey.id}/revoke`, {}],
  ];
  for (const [path, body] of posts) {
    for (const csrf of [undefined, "", s.csrf.slice(0, -1) + (s.csrf.endsWith("A") ? "B" : "A"), "x"]) {
      const headers: Record<string, string> = { cookie: s.cookie, "content-type": "application/json" };
      if (csrf !== undefined) headers["x-csrf-token"] = csrf;
      const r = await request(t.url + path, { method: "POST", headers, body: JSON.stringify(body) });
      assert.equal(r.status, 403, `${path} csrf=${csrf}`);
      assert.equal(r.body.error, "ERR_CSRF");
    }
    const cross = await request(t.url + path, { method: "POST", headers: { cookie: s.cookie, "x-csrf-token": s.csrf, "content-type": "application/json", origin: "https://evil.example" }, body: JSON.stringify(body) });
    assert.equal(cross.status, 403, `${path} cross-origin`);
  }
  assert.equal(await snapshot(), before);
});

test("dashboard API bad input: wrong content type, invalid JSON, oversized and slow bodies, unknown and malformed IDs", async () => {
  const [a] = t.channels;
  const s = await login();
  const h = { cookie: s.cookie, "x-csrf-token": s.csrf };
  const before = await snapshot();
  const post = (path: string, body: string | Buffer, type = "application/json") =>
    request(t.url + path, { method: "POST", headers: { ...h, "content-type": type }, body });
  const cases: Array<[Promise<{ status: number; body: any }>, number, string]> = [
    [post("/ui/api/apikeys", "channels=1", "application/x-www-form-urlencoded"), 415, "ERR_UNSUPPORTED_MEDIA_TYPE"],
    [post("/ui/api/apikeys", "{not json"), 400, "ERR_INVALID_JSON"],
    [post("/ui/api/apikeys", "[1,2]"), 400, "ERR_INVALID_JSON"],
    [post("/ui/api/apikeys", Buffer.alloc(70_000, 0x20)), 413, "ERR_BODY_TOO_LARGE"],
    [post("/ui/api/apikeys", JSON.stringify({ channels: "1234567890" })), 400, "ERR_BAD_REQUEST"],
    [post("/ui/api/apikeys", JSON.stringify({ channels: ["12ab"] })), 400, "ERR_INVALID_INPUT"],
    [post("/ui/api/apikeys", JSON.stringify({ channels: [a!.channelId, "9999999999"] })), 404, "ERR_CHANNEL_NOT_FOUND"],
    [post("/ui/api/channels/9999999999/issue", "{}"), 404, "ERR_CHANNEL_NOT_FOUND"],
    // Any credential ID is taken (a LINE WORKS app's too); one that is not an ID is a 400.
    [post("/ui/api/channels/12ab/issue", "{}"), 404, "ERR_CHANNEL_NOT_FOUND"],
    [post("/ui/api/channels/-12ab/issue", "{}"), 400, "ERR_BAD_REQUEST"],
    [post(`/ui/api/channels/${a!.channelId}/revoke`, JSON.stringify({ keyId: 42 })), 400, "ERR_BAD_REQUEST"],
    [post(`/ui/api/channels/${a!.channelId}/revoke`, JSON.stringify({ keyId: "no-such-key" })), 404, "ERR_TOKEN_NOT_FOUND"],
    [post("/ui/api/apikeys/ak_0000000000000000/revoke", "{}"), 404, "ERR_NOT_FOUND"],
    [post("/ui/api/apikeys/nope/revoke", "{}"), 404, "ERR_NOT_FOUND"],
    [request(`${t.url}/ui/api/audit?channel=-abc`, { headers: h }), 400, "ERR_BAD_REQUEST"],
    [request(`${t.url}/ui/api/audit?limit=-1`, { headers: h }), 400, "ERR_BAD_REQUEST"],
    [request(`${t.url}/ui/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: "wrong" }) }), 401, "ERR_UNAUTHORIZED"],
    [request(`${t.url}/ui/api/login`, { method: "POST", headers: { "content-type": "text/plain" }, body: ADMIN }), 415, "ERR_UNSUPPORTED_MEDIA_TYPE"],
    [request(`${t.url}/ui/nope.js`), 404, "ERR_NOT_FOUND"],
  ];
  for (const [p, status, code] of cases) {
    const r = await p;
    assert.equal(r.status, status, JSON.stringify(r.body));
    assert.equal(r.body.error, code);
    assert.doesNotMatch(JSON.stringify(r.body), /at .*\.ts:\d+/);
  }

  // A body that never finishes: 408 after the deadline, and the socket is closed.
  const answer = await new Promise<string>((resolve, reject) => {
    const sock = connect(Number(new URL(t.url).port), "127.0.0.1", () => {
      sock.write(`POST /ui/api/apikeys HTTP/1.1\r\nhost: ${new URL(t.url).host}\r\ncookie: ${s.cookie}\r\nx-csrf-token: ${s.csrf}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"chan`);
    });
    let data = "";
    sock.setEncoding("utf8").on("data", (d: string) => (data += d)).on("close", () => resolve(data)).on("error", reject);
  });
  assert.match(answer, /^HTTP\/1\.1 408/);
  assert.match(answer, /ERR_BODY_TIMEOUT/);

  // The same for a webhook body that trickles in: 408 ERR_WEBHOOK_BODY_TIMEOUT, connection closed.
  const started = Date.now();
  const webhookAnswer = await new Promise<string>((resolve, reject) => {
    const sock = connect(Number(new URL(t.url).port), "127.0.0.1", () => {
      sock.write(`POST /webhook/${a!.channelId} HTTP/1.1\r\nhost: ${new URL(t.url).host}\r\nx-line-signature: ${"A".repeat(43)}=\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{`);
    });
    const drip = setInterval(() => sock.writable && sock.write(" "), 100);
    let data = "";
    // A drip written just as the server closes draws a reset; what matters is the answer before it.
    sock.setEncoding("utf8")
      .on("data", (d: string) => (clearInterval(drip), (data += d)))
      .on("close", () => (clearInterval(drip), resolve(data)))
      .on("error", (error) => (clearInterval(drip), data ? resolve(data) : reject(error)));
  });
  assert.match(webhookAnswer, /^HTTP\/1\.1 408/);
  assert.match(webhookAnswer, /ERR_WEBHOOK_BODY_TIMEOUT/);
  assert.ok(Date.now() - started < 5_000, `answered after ${Date.now() - started} ms`);

  // Headers over the limit: 431 with its own code.
  const huge = await new Promise<string>((resolve) => {
    const sock = connect(Number(new URL(t.url).port), "127.0.0.1", () => sock.write(`GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(20_000)}\r\n\r\n`));
    let data = "";
    sock.setEncoding("utf8").on("data", (d: string) => (data += d)).on("close", () => resolve(data)).on("error", () => resolve(data));
  });
  assert.match(huge, /^HTTP\/1\.1 431 Request Header Fields Too Large/);
  assert.match(huge, /ERR_HEADERS_TOO_LARGE/);

  // Garbage instead of HTTP.
  const garbage = await new Promise<string>((resolve) => {
    const sock = connect(Number(new URL(t.url).port), "127.0.0.1", () => sock.write("\x00\x01 nonsense\r\n\r\n"));
    let data = "";
    sock.setEncoding("utf8").on("data", (d: string) => (data += d)).on("close", () => resolve(data)).on("error", () => resolve(data));
  });
  assert.match(garbage, /^HTTP\/1\.1 400/);

  assert.equal(await snapshot(), before);
  assert.equal((await request(`${t.url}/healthz`)).status, 200);
  const ok = await request(`${t.url}/ui/api/apikeys`, { headers: h });
  assert.equal(ok.status, 200);
});

test("a per-key rate limit answers 429 with Retry-After", async () => {
  const limited = await startTestBroker({ server: { rateLimit: { perSecond: 1, burst: 3 } }, emu: t.emu });
  try {
    const [a] = limited.channels;
    const { key } = await testApiKey(limited.store, [a!.channelId]);
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 6; i++) {
      const r = await request(`${limited.url}/v1/channels/${a!.channelId}/token`, { headers: { authorization: `Bearer ${key}` } });
      statuses.push(r.status);
      if (r.status === 429) {
        retryAfter = r.headers.get("retry-after");
        assert.equal(r.body.error, "ERR_RATE_LIMITED");
      }
    }
    assert.deepEqual(statuses.slice(0, 3), [200, 200, 200]);
    assert.ok(statuses.includes(429));
    assert.match(retryAfter ?? "", /^[1-9]\d*$/);
  } finally {
    await limited.close();
  }
});
