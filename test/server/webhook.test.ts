import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { AuditThrottle } from "../../src/server/audit-throttle.ts";
import { CHANNEL_ID_PATTERN } from "../../src/server/apikeys.ts";
import { isLineWebhookPath } from "../../src/server/webhook-routes.ts";
import { request, startTestBroker, type TestBroker } from "./helpers.ts";
import { deliverTestWebhook, sentMessages } from "../helpers/emulator.ts";

let t: TestBroker;
before(async () => {
  t = await startTestBroker({ channels: 2 });
});
after(() => t.close());

const hookUrl = (channelId: string): string => `${t.url}/webhook/${channelId}`;
const textEvent = (text: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: "message",
  message: { type: "text", id: String(Date.now()), text },
  ...extra,
});

test("a signed delivery from the emulator is answered 200 and the example bot replies こんにちは! with a managed token", async () => {
  const [a] = t.channels;
  const r = await deliverTestWebhook(t.emu.url, { channelId: a!.channelId, url: hookUrl(a!.channelId), events: [textEvent("hello")] });
  assert.equal(r.status, 200);
  await t.broker.drainWebhooks();
  const msgs = (await sentMessages(t.emu.url, a!.channelId)).filter((m) => m.replyToken === r.replyTokens[0]);
  assert.equal(msgs.length, 1);
  assert.equal(msgs[0].body.messages[0].text, "こんにちは!");
});

test("one delivery from the emulator replayed 1,000 times over HTTP is handled once: one reply", async () => {
  const [a] = t.channels;
  const r = await deliverTestWebhook(t.emu.url, { channelId: a!.channelId, url: hookUrl(a!.channelId), events: [textEvent("once")] });
  assert.equal(r.status, 200);
  for (let i = 0; i < 1000; i += 100) {
    const replays = await Promise.all(Array.from({ length: 100 }, () =>
      request(hookUrl(a!.channelId), { method: "POST", body: r.body, headers: { "content-type": "application/json", "X-Line-Signature": r.signature } })));
    for (const x of replays) assert.equal(x.status, 200);
  }
  await t.broker.drainWebhooks();
  const msgs = (await sentMessages(t.emu.url, a!.channelId)).filter((m) => m.replyToken === r.replyTokens[0]);
  assert.equal(msgs.length, 1);
});

test("bad signature, missing signature and a body signed for another channel get 401; rejections are audited and counted", async () => {
  const [a, b] = t.channels;
  const body = JSON.stringify({ destination: a!.botUserId, events: [textEvent("x", { webhookEventId: "01HXXXXXXXXXXXXXXXXXXXXXXX", replyToken: "rt", mode: "active", timestamp: 1, deliveryContext: { isRedelivery: false } })] });
  const sigA = createHmac("sha256", a!.channelSecret).update(body).digest("base64");
  const cases: Array<[string, Record<string, string>]> = [
    [hookUrl(a!.channelId), { "x-line-signature": "AAAA" + sigA.slice(4) }],
    [hookUrl(a!.channelId), {}],
    [hookUrl(b!.channelId), { "x-line-signature": sigA }],
    [hookUrl("9999999999"), { "x-line-signature": sigA }],
  ];
  for (const [url, headers] of cases) {
    const r = await request(url, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
    assert.equal(r.status, 401, url);
    assert.equal(r.body.error, "ERR_WEBHOOK_SIGNATURE");
  }
  await t.broker.drainWebhooks();
  const audit = await t.store.listAudit({ limit: 100 });
  const rejects = audit.filter((row) => row.action === "webhook.reject");
  assert.ok(rejects.some((row) => row.channelId === a!.channelId));
  assert.ok(rejects.some((row) => row.channelId === b!.channelId));
  for (const row of rejects) assert.equal(row.actor, "webhook");
  const metrics = (await request(`${t.url}/metrics`)).text;
  assert.match(metrics, /kagiya_webhook_requests_total\{outcome="bad_signature"\} [4-9]/);
  assert.match(metrics, /kagiya_webhook_requests_total\{outcome="accepted"\} \d+/);
  // The audit log never holds the signature or the secret.
  const dump = JSON.stringify(audit);
  assert.ok(!dump.includes(sigA) && !dump.includes(a!.channelSecret));
});

test("a flood of forged deliveries to made-up channel IDs writes a bounded number of audit rows, and counts the rest", async () => {
  const before = (await t.store.listAudit({ limit: 10_000 })).filter((row) => row.action === "webhook.reject").length;
  const forged = { "content-type": "application/json", "x-line-signature": "A".repeat(43) + "=" };
  const statuses = new Set<number>();
  for (let i = 0; i < 300; i += 50) {
    const batch = await Promise.all(Array.from({ length: 50 }, (_, j) => request(hookUrl(String(5_000_000_000 + i + j)), { method: "POST", body: '{"events":[]}', headers: forged })));
    for (const r of batch) statuses.add(r.status);
  }
  assert.deepEqual([...statuses], [401]);
  await new Promise((r) => setTimeout(r, 50)); // audit writes are not awaited by the response
  const after = (await t.store.listAudit({ limit: 10_000 })).filter((row) => row.action === "webhook.reject").length;
  assert.ok(after - before <= 20, `${after - before} audit rows for 300 forged requests`);
  const metrics = (await request(`${t.url}/metrics`)).text;
  const counted = Number(/kagiya_webhook_requests_total\{outcome="bad_signature"\} (\d+)/.exec(metrics)?.[1]);
  assert.ok(counted >= 300, `metrics counted ${counted}`);
});

test("AuditThrottle: one row per key per window, a cap per window, and the count of what was left out", () => {
  const th = new AuditThrottle(10_000, 3);
  assert.equal(th.admit("a", 0), "");
  assert.equal(th.admit("a", 1), null);
  assert.equal(th.admit("b", 2), "; 1 more not recorded since the previous record");
  assert.equal(th.admit("c", 3), "");
  assert.equal(th.admit("d", 4), null, "cap reached");
  assert.equal(th.admit("e", 5), null);
  assert.equal(th.admit("a", 10_001), "; 2 more not recorded since the previous record");
});

test("oversized, non-JSON and empty-events deliveries get 413, 400 and 200; malformed channel paths 404", async () => {
  const [a] = t.channels;
  const sign = (b: string | Buffer): string => createHmac("sha256", a!.channelSecret).update(b).digest("base64");
  const big = Buffer.alloc(1024 * 1024 + 1, 0x20);
  const tooBig = await request(hookUrl(a!.channelId), { method: "POST", body: big, headers: { "x-line-signature": sign(big) } });
  assert.equal(tooBig.status, 413);
  const notJson = "not json";
  const bad = await request(hookUrl(a!.channelId), { method: "POST", body: notJson, headers: { "x-line-signature": sign(notJson) } });
  assert.equal(bad.status, 400);
  const empty = JSON.stringify({ destination: a!.botUserId, events: [] });
  const ok = await request(hookUrl(a!.channelId), { method: "POST", body: empty, headers: { "X-LINE-SIGNATURE": sign(empty) } });
  assert.equal(ok.status, 200);
  const weird = await request(`${t.url}/webhook/abc`, { method: "POST", body: empty, headers: { "x-line-signature": sign(empty) } });
  assert.equal(weird.status, 404);
  assert.equal(weird.body.error, "ERR_NOT_FOUND");
  const get = await request(hookUrl(a!.channelId));
  assert.equal(get.status, 405);
  // Still serving.
  assert.equal((await request(`${t.url}/healthz`)).status, 200);
});

test("isLineWebhookPath takes exactly /webhook/ and 1 to 20 digits, as CHANNEL_ID_PATTERN says", () => {
  const samples = [
    "/webhook/1", "/webhook/1234567890", "/webhook/" + "9".repeat(20), "/webhook/" + "9".repeat(21), "/webhook/", "/webhook",
    "/webhook/12a4", "/webhook/１２３", "/webhook/123/", "/webhook//123", "/webhooks/123", "/WEBHOOK/123", "/webhook/works/2000001",
    "/webhook/-1", "/webhook/ 1", "/webhook/1.0", "webhook/123", "/webhook/0", "/webhook/:", "/webhook//", "/x/webhook/123",
  ];
  for (const path of samples) {
    const expected = path.startsWith("/webhook/") && CHANNEL_ID_PATTERN.test(path.slice("/webhook/".length));
    assert.equal(isLineWebhookPath(path), expected, path);
  }
});
