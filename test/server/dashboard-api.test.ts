// What the dashboard draws from: the root redirect, each channel's token timeline (revocation
// times of superseded tokens, last issue), and the last hour of the server's own counters.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { dashboardLogin, request, startTestBroker, testApiKey, type TestBroker } from "./helpers.ts";

const ADMIN = "dashboard-api-admin-token-" + "q".repeat(20);
let t: TestBroker;
// At the start of a second: the frozen clock must sit in the first 750 ms, where issuance permits are (issue-rate.ts).
let clockMs = Math.floor(Date.now() / 1000) * 1000;
before(async () => {
  t = await startTestBroker({ channels: 1, server: { adminToken: ADMIN, now: () => clockMs, activitySampleMs: 3_600_000, rateLimit: { perSecond: 1000, burst: 1000 } } });
});
after(() => t.close());

test("GET / redirects to the dashboard", async () => {
  const r = await fetch(`${t.url}/`, { redirect: "manual" });
  assert.equal(r.status, 302);
  assert.equal(r.headers.get("location"), "/ui/");
});

test("channels API: a superseded token says when it is revoked; last issue counts manual issues", async () => {
  const [ch] = t.channels;
  const s = await dashboardLogin(t.url, ADMIN);
  const issue = () => request(`${t.url}/ui/api/channels/${ch!.channelId}/issue`, { method: "POST", headers: { cookie: s.cookie, "x-csrf-token": s.csrf, "content-type": "application/json" }, body: "{}" });
  const first = await issue();
  assert.equal(first.status, 200, first.text);
  clockMs += 1000;
  const second = await issue();
  assert.equal(second.status, 200, second.text);
  const r = await request(`${t.url}/ui/api/channels`, { headers: { cookie: s.cookie } });
  assert.equal(r.status, 200, r.text);
  const status = r.body.channels[0].status;
  const byKey = new Map(status.tokens.map((x: { keyId: string }) => [x.keyId, x]));
  const old = byKey.get(first.body.keyId) as { state: string; revokeAt: number; endedAt: number | null };
  const cur = byKey.get(second.body.keyId) as { state: string; revokeAt: number | null; issuedAt: number };
  assert.equal(old.state, "superseded");
  const stored = (await t.store.listTokens(ch!.channelId)).find((x) => x.keyId === first.body.keyId)!;
  assert.equal(old.revokeAt, stored.revokeAt);
  assert.ok(old.revokeAt > clockMs, "revoked after the grace period, not yet");
  assert.equal(cur.state, "valid");
  assert.equal(cur.revokeAt, null);
  assert.equal(status.lastIssuedAt, cur.issuedAt);
});

test("activity API: token API and webhook requests per interval over the last hour, from the server's counters", async () => {
  const [ch] = t.channels;
  const s = await dashboardLogin(t.url, ADMIN);
  const key = await testApiKey(t.store, [ch!.channelId]);
  const token = (auth?: string) => request(`${t.url}/v1/channels/${ch!.channelId}/token`, { headers: auth ? { authorization: `Bearer ${auth}` } : {} });
  await t.broker.activity.tokenApi.sample();
  await t.broker.activity.webhooks.sample();
  const start = clockMs;
  assert.equal((await token(key.key)).status, 200);
  assert.equal((await token()).status, 401);
  assert.equal((await token("kgy_wrong")).status, 401);
  const hook = await fetch(`${t.url}/webhook/${ch!.channelId}`, { method: "POST", headers: { "content-type": "application/json", "x-line-signature": "bm90IGl0" }, body: '{"destination":"U0","events":[]}' });
  assert.equal(hook.status, 401);
  clockMs += 60_000;
  await t.broker.activity.tokenApi.sample();
  await t.broker.activity.webhooks.sample();
  assert.equal((await token()).status, 401);

  const r = await request(`${t.url}/ui/api/activity`, { headers: { cookie: s.cookie } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.now, clockMs);
  const tokenPoints = r.body.tokenApi.points.filter((p: { at: number }) => p.at > start);
  assert.deepEqual(tokenPoints.map((p: { at: number; counts: Record<string, number> }) => [p.at - start, p.counts["ok"] ?? 0, p.counts["refused"] ?? 0]), [[60_000, 1, 2], [60_000, 0, 1]]);
  const hookPoints = r.body.webhooks.points.filter((p: { at: number }) => p.at > start);
  assert.equal(hookPoints[0].counts["bad_signature"], 1);
  assert.equal(r.body.tokenApi.from, clockMs - 3_600_000);

  // An hour on, those intervals have left the window; only what came since the last sample is left.
  clockMs += 3_600_000;
  const later = await t.broker.activity.tokenApi.series();
  assert.deepEqual(later.points.map((p) => [p.at, p.counts["refused"]]), [[clockMs, 1]]);
});

test("the grants script is served with the page's security headers, and the page loads it after app.js", async () => {
  const js = await fetch(`${t.url}/ui/grants.js`);
  assert.equal(js.status, 200);
  assert.equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.match(js.headers.get("content-security-policy") ?? "", /script-src 'self'/);
  const body = await js.text();
  assert.match(body, /\/ui\/api\/grants\?/);
  // It reads the listing only: no token route, no token field.
  assert.doesNotMatch(body, /\/v1\/grants|access_?token|refresh_?token/i);
  const html = await (await fetch(`${t.url}/ui/`)).text();
  assert.ok(html.indexOf('src="/ui/grants.js"') > html.indexOf('src="/ui/app.js"'), "grants.js after app.js");
  assert.match(html, /<section id="grants-section" hidden>/);
});
