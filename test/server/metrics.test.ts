import { test } from "node:test";
import assert from "node:assert/strict";
import { request, startTestBroker, testApiKey } from "./helpers.ts";
import { clearFaults, deliverTestWebhook, injectFault } from "../helpers/emulator.ts";
import { ServerMetrics } from "../../src/server/metrics.ts";

function value(metrics: string, line: RegExp): number {
  const m = metrics.split("\n").find((l) => line.test(l));
  return m === undefined ? NaN : Number(m.split(" ").pop());
}

test("/metrics: issuances and failures by reason, expiry and budget per channel, webhooks by outcome, upstream latency, lock waits", async () => {
  const t = await startTestBroker({ channels: 2, server: { rateLimit: { perSecond: 1000, burst: 1000 } } });
  try {
    const [a, b] = t.channels;
    const { key } = await testApiKey(t.store, [a!.channelId, b!.channelId]);
    const auth = { headers: { authorization: `Bearer ${key}` } };
    // Cold issuance for A with concurrent readers (single flight), a LINE failure for B.
    await Promise.all(Array.from({ length: 10 }, () => request(`${t.url}/v1/channels/${a!.channelId}/token`, auth)));
    await injectFault(t.emu.url, { method: "POST", path: "/oauth2/v2.1/token", status: 503, count: 1 });
    const failed = await request(`${t.url}/v1/channels/${b!.channelId}/token`, auth);
    assert.equal(failed.status, 503);
    assert.equal(failed.body.error, "ERR_TOKEN_UNAVAILABLE");
    assert.match(failed.headers.get("retry-after") ?? "", /^\d+$/);
    await clearFaults(t.emu.url);
    await deliverTestWebhook(t.emu.url, { channelId: a!.channelId, url: `${t.url}/webhook/${a!.channelId}`, events: [] });
    await request(`${t.url}/webhook/${a!.channelId}`, { method: "POST", body: "{}", headers: { "x-line-signature": "bad" } });

    const r = await request(`${t.url}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", /^text\/plain/);
    const m = r.text;
    assert.equal(value(m, new RegExp(`^kagiya_token_issuances_total\\{channel="${a!.channelId}",reason="cold"\\}`)), 1);
    assert.ok(value(m, new RegExp(`^kagiya_token_failures_total\\{channel="${b!.channelId}",reason="[A-Z_]+"\\}`)) >= 1, m);
    const ttl = value(m, new RegExp(`^kagiya_token_seconds_to_expiry\\{channel="${a!.channelId}"\\}`));
    assert.ok(ttl > 6 * 86400 && ttl <= 7 * 86400, String(ttl));
    assert.equal(value(m, new RegExp(`^kagiya_token_budget_left\\{channel="${a!.channelId}"\\}`)), 29);
    assert.equal(value(m, new RegExp(`^kagiya_token_budget_left\\{channel="${b!.channelId}"\\}`)), 30);
    assert.equal(value(m, /^kagiya_webhook_requests_total\{outcome="accepted"\}/), 1);
    assert.equal(value(m, /^kagiya_webhook_requests_total\{outcome="bad_signature"\}/), 1);
    assert.ok(value(m, /^kagiya_upstream_request_seconds_count\{endpoint="issue",status="200"\}/) >= 1);
    assert.ok(value(m, /^kagiya_upstream_request_seconds_count\{endpoint="issue",status="503"\}/) >= 1);
    assert.match(m, /^# TYPE kagiya_lock_wait_seconds histogram$/m);
    assert.equal(value(m, /^kagiya_token_api_requests_total\{outcome="ok"\}/), 10);
    assert.equal(value(m, /^kagiya_token_api_requests_total\{outcome="failed"\}/), 1);
  } finally {
    await t.close();
  }
});

test("/metrics leaves per-channel series out past the channel limit unless forced, and can be forced off", async () => {
  let count = 2;
  const auto = new ServerMetrics({ perChannelLimit: 2 });
  auto.setChannelCount(() => count);
  auto.observer.issued!("1111111111", "cold", 1);
  count = 3;
  auto.observer.issued!("2222222222", "cold", 1);
  const text = (await auto.render()).body;
  assert.equal(value(text, /^kagiya_token_issuances_total\{channel="1111111111",reason="cold"\}/), 1);
  assert.equal(value(text, /^kagiya_token_issuances_total\{channel="\*",reason="cold"\}/), 1);
  assert.doesNotMatch(text, /2222222222/);
  const forced = new ServerMetrics({ perChannel: true, perChannelLimit: 2 });
  forced.setChannelCount(() => 1000);
  forced.observer.issued!("2222222222", "cold", 1);
  assert.equal(value((await forced.render()).body, /^kagiya_token_issuances_total\{channel="2222222222",reason="cold"\}/), 1);

  // A broker with them off: issuances are counted under "*", and no per-channel gauge is read.
  const t = await startTestBroker({ channels: 1, server: { perChannelMetrics: false } });
  try {
    const [a] = t.channels;
    const { key } = await testApiKey(t.store, [a!.channelId]);
    assert.equal((await request(`${t.url}/v1/channels/${a!.channelId}/token`, { headers: { authorization: `Bearer ${key}` } })).status, 200);
    const m = (await request(`${t.url}/metrics`)).text;
    assert.equal(value(m, /^kagiya_token_issuances_total\{channel="\*",reason="cold"\}/), 1);
    assert.doesNotMatch(m, new RegExp(a!.channelId));
    assert.doesNotMatch(m, /^kagiya_token_seconds_to_expiry\{/m);
  } finally {
    await t.close();
  }
});
