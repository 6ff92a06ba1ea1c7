// The dashboard's credential list over HTTP: paged and filtered on the server (kind, state, ID
// substring), LINE WORKS apps beside LINE channels with their kind, scope, expiry, last refresh and
// last error; actions and the audit filter take any credential ID; /metrics shows the apps too.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { dashboardLogin, request, startTestBroker, type TestBroker } from "./helpers.ts";
import { startTestEmulator, testKeyPair, type TestEmulator } from "../helpers/emulator.ts";
import { createWorksApp, createWorksBot, registerWorksApp, worksAccessTokens, type TestWorksApp } from "../helpers/works-emulator.ts";

const ADMIN = "dashboard-credentials-" + "k".repeat(30);
const EXTRA = 45;
let emu: TestEmulator;
let t: TestBroker;
let app: TestWorksApp;
let botId: string;
let s: { cookie: string; csrf: string };

before(async () => {
  emu = await startTestEmulator();
  t = await startTestBroker({ emu, channels: 1, server: { adminToken: ADMIN, worksAuthBase: emu.url, worksApiBase: emu.url } });
  // Many LINE channels that never reach LINE (the list reads the store only).
  const { privateJwk } = await testKeyPair();
  for (let i = 0; i < EXTRA; i++) {
    await t.registry.add({ channelId: String(3_000_000_000 + i), kid: `kid-${i}`, privateKey: privateJwk as never, channelSecret: `secret-${i}` });
  }
  app = await createWorksApp(emu.url);
  botId = (await createWorksBot(emu.url)).botId;
  await registerWorksApp(t.registry as never, app, { id: "works-billing", settings: { scope: "bot user.read", botId } });
  s = await dashboardLogin(t.url, ADMIN);
});
after(async () => {
  await t.close();
  await emu.close();
});

const list = (query = "") => request(`${t.url}/ui/api/channels${query ? `?${query}` : ""}`, { headers: { cookie: s.cookie } });
const post = (path: string, body: unknown = {}) =>
  request(`${t.url}${path}`, { method: "POST", headers: { cookie: s.cookie, "x-csrf-token": s.csrf, "content-type": "application/json" }, body: JSON.stringify(body) });

test("the list is paged on the server: 20 cards by default, offset and limit walk all of them once", async () => {
  const first = await list();
  assert.equal(first.status, 200, first.text);
  const total = 1 + EXTRA + 1;
  assert.equal(first.body.total, total);
  assert.equal(first.body.channels.length, 20);
  assert.deepEqual(first.body.kinds, { "line-v2.1": 1 + EXTRA, "line-works": 1 });
  const seen = new Set<string>();
  for (let offset = 0; offset < total; offset += 15) {
    const page = await list(`offset=${offset}&limit=15`);
    assert.equal(page.body.offset, offset);
    assert.ok(page.body.channels.length <= 15);
    for (const c of page.body.channels) seen.add(c.channelId);
  }
  assert.equal(seen.size, total);
  assert.equal((await list(`offset=${total}`)).body.channels.length, 0);
  for (const bad of ["limit=0", "limit=101", "offset=-1", "state=sleeping", "kind=LINE!", "q=a%20b"]) {
    const r = await list(bad);
    assert.equal(r.status, 400, bad);
    assert.equal(r.body.error, "ERR_BAD_REQUEST");
  }
});

test("a LINE WORKS app is listed beside the channels with its kind, scope, client, bot, expiry, last refresh and last error", async () => {
  const byKind = await list("kind=line-works");
  assert.equal(byKind.body.total, 1);
  const [card] = byKind.body.channels;
  assert.equal(card.channelId, "works-billing");
  assert.equal(card.kind, "line-works");
  assert.equal(card.scope, "bot user.read");
  assert.equal(card.clientId, app.clientId);
  assert.equal(card.botId, botId);
  assert.equal(card.state, "none");
  assert.equal(card.status.budgetLimit, null);
  assert.equal(card.status.lastError, null);
  // Actions take a credential ID, not only digits.
  const issued = await post("/ui/api/channels/works-billing/issue");
  assert.equal(issued.status, 200, issued.text);
  assert.equal((await worksAccessTokens(emu.url, app.clientId)).length, 1);
  const after = (await list("kind=line-works")).body.channels[0];
  assert.equal(after.state, "valid");
  const current = after.status.tokens.find((x: { state: string }) => x.state === "valid");
  assert.ok(current.expiresAt > Date.now());
  assert.ok(after.status.lastIssuedAt !== null);
  assert.equal((await post("/ui/api/channels/..bad/issue")).status, 400);
  assert.equal((await post("/ui/api/channels/works-nobody/issue")).status, 404);
  // The audit filter takes it too.
  const audit = await request(`${t.url}/ui/api/audit?channel=works-billing`, { headers: { cookie: s.cookie } });
  assert.equal(audit.status, 200, audit.text);
  assert.ok(audit.body.audit.some((row: { channelId: string }) => row.channelId === "works-billing"));
});

test("filters by state and by ID substring, counted before paging", async () => {
  const valid = await list("state=valid");
  assert.deepEqual(valid.body.channels.map((c: { channelId: string }) => c.channelId), ["works-billing"]);
  assert.equal(valid.body.total, 1);
  const none = await list("state=none&limit=5");
  assert.equal(none.body.total, 1 + EXTRA);
  assert.equal(none.body.channels.length, 5);
  const q = await list("q=300000001");
  const all = (await list("limit=100")).body.channels.map((c: { channelId: string }) => c.channelId);
  // 3000000010 … 3000000019 (and any other ID that holds it).
  assert.equal(q.body.total, all.filter((id: string) => id.includes("300000001")).length);
  assert.ok(q.body.total >= 10);
  assert.ok(q.body.channels.every((c: { channelId: string }) => c.channelId.includes("300000001")));
  assert.equal((await list("q=BILL")).body.channels[0].channelId, "works-billing", "case-insensitive");
  assert.equal((await list("q=works&kind=line-v2.1")).body.total, 0);
});

test("/metrics lists the LINE WORKS app beside the channels: kind, scope, last refresh", async () => {
  const text = (await request(`${t.url}/metrics`)).text;
  assert.match(text, /kagiya_credential_info\{channel="works-billing",kind="line-works",scope="bot user\.read"\} 1/);
  assert.match(text, new RegExp(`kagiya_credential_info\\{channel="${t.channels[0]!.channelId}",kind="line-v2\\.1",scope=""\\} 1`));
  assert.match(text, /kagiya_credential_last_refresh_timestamp_seconds\{channel="works-billing"\} \d/);
  assert.match(text, /kagiya_token_seconds_to_expiry\{channel="works-billing"\} \d/);
});
