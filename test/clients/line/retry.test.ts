import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, afterEach, before, describe, test } from "node:test";
import { LineApiError, LineNetworkError, parseRetryAfter } from "../../../src/clients/line/index.ts";
import { injectFault } from "../../helpers/emulator.ts";
import { closeProxiedLineFixture, proxiedLineFixture, rejection, resetProxiedLineFixture, type LineFixture } from "./fixture.ts";
import type { TestProxy } from "./proxy.ts";

const KID = "/oauth2/v2.1/tokens/kid";
let fx: LineFixture;
let proxy: TestProxy;
before(async () => ({ fx, proxy } = await proxiedLineFixture()));
after(() => closeProxiedLineFixture(fx, proxy));
afterEach(() => resetProxiedLineFixture(fx, proxy));

describe("retries with full-jitter backoff", () => {
  test("503 twice then 200: two retries, sleeps random() x min(cap, base x 2^n)", async () => {
    await injectFault(fx.emu.url, { method: "GET", path: KID, status: 503, count: 2 });
    const { line, sleeps, attempts } = fx.client();
    const { kids } = await line.listValidKeyIds(fx.creds);
    assert.ok(Array.isArray(kids));
    assert.deepEqual(attempts.map((a) => a.status), [503, 503, 200]);
    assert.deepEqual(sleeps, [125, 250]); // random() = 0.5, base 250 ms
  });

  test("500 on verify is retried", async () => {
    const { line: issuer } = fx.client();
    const t = await issuer.issueChannelToken(fx.creds);
    await injectFault(fx.emu.url, { method: "GET", path: "/oauth2/v2.1/verify", status: 500, count: 1 });
    const { line, attempts } = fx.client();
    const v = await line.verifyChannelToken(t.access_token);
    assert.equal(v.client_id, fx.channel.channelId);
    assert.deepEqual(attempts.map((a) => a.status), [500, 200]);
  });

  test("connection resets are retried on idempotent calls", async () => {
    await injectFault(fx.emu.url, { method: "GET", path: KID, reset: true, count: 2 });
    const { line, attempts } = fx.client();
    await line.listValidKeyIds(fx.creds);
    assert.deepEqual(attempts.map((a) => [a.status, a.errorCode]), [[0, "ERR_LINE_NETWORK"], [0, "ERR_LINE_NETWORK"], [200, undefined]]);
  });

  test("a persistent 503 ends after maxAttempts as an ambiguous ERR_LINE_SERVER", async () => {
    await injectFault(fx.emu.url, { method: "GET", path: KID, status: 503 });
    const { line, sleeps } = fx.client();
    const e = await rejection(line.listValidKeyIds(fx.creds));
    assert.ok(e instanceof LineApiError);
    assert.equal(e.code, "ERR_LINE_SERVER");
    assert.equal(e.status, 503);
    assert.equal(e.attempts, 4);
    assert.equal(e.ambiguous, true);
    assert.deepEqual(sleeps, [125, 250, 500]);
  });

  test("backoff is capped: base 1000, cap 1500", async () => {
    await injectFault(fx.emu.url, { method: "GET", path: KID, status: 500 });
    const { line, sleeps } = fx.client({ retry: { baseMs: 1000, capMs: 1500, maxAttempts: 5 }, random: () => 0.999 });
    await rejection(line.listValidKeyIds(fx.creds));
    assert.deepEqual(sleeps, [999, 1498, 1498, 1498]);
  });

  test("refused connections are retried and reported as never sent", async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    const { line, sleeps } = fx.client({ baseUrl: `http://127.0.0.1:${port}` });
    const e = await rejection(line.issueChannelToken(fx.creds));
    assert.ok(e instanceof LineNetworkError);
    assert.equal(e.delivery, "not_sent");
    assert.equal(e.causeCode, "ECONNREFUSED");
    assert.equal(e.attempts, 4); // issuing may be retried: it surely never reached LINE
    assert.equal(sleeps.length, 3);
  });
});

describe("network failures before sending", () => {
  test("an unknown host (DNS) is never sent: issue may be retried, error says not_sent", async () => {
    const { line, attempts } = fx.client({ baseUrl: "http://kagiya-test.invalid", retry: { maxAttempts: 2 } });
    const e = await rejection(line.issueChannelToken(fx.creds));
    assert.ok(e instanceof LineNetworkError);
    assert.equal(e.delivery, "not_sent");
    assert.match(e.causeCode ?? "", /^(ENOTFOUND|EAI_AGAIN|EAI_FAIL|EAI_NONAME)$/);
    assert.equal(attempts.length, 2);
  });

  test("a throwing onAttempt hook does not break the call", async () => {
    const { line } = fx.client({ onAttempt: () => { throw new Error("metrics down"); } });
    await line.listValidKeyIds(fx.creds);
  });
});

describe("Retry-After", () => {
  test("429 with delta-seconds: the sleep is exactly Retry-After", async () => {
    await injectFault(fx.emu.url, { method: "GET", path: KID, status: 429, retryAfter: 7, count: 1 });
    const { line, sleeps, attempts } = fx.client();
    await line.listValidKeyIds(fx.creds);
    assert.deepEqual(sleeps, [7000]);
    assert.deepEqual(attempts.map((a) => a.status), [429, 200]);
  });

  test("503 with Retry-After replaces the backoff", async () => {
    await injectFault(fx.emu.url, { method: "GET", path: KID, status: 503, retryAfter: 3, count: 2 });
    const { line, sleeps } = fx.client();
    await line.listValidKeyIds(fx.creds);
    assert.deepEqual(sleeps, [3000, 3000]);
  });

  test("HTTP-date form, taken relative to the response's Date header", async () => {
    await injectFault(fx.emu.url, { method: "GET", path: KID, status: 429, retryAfter: 42, count: 1 });
    proxy.rewrite = (_req, res) => {
      const secs = res.headers["retry-after"];
      if (secs === undefined) return undefined;
      const date = Date.parse(res.headers["date"]!);
      return { ...res, headers: { ...res.headers, "retry-after": new Date(date + Number(secs) * 1000).toUTCString() } };
    };
    // A local clock 10 minutes off must not matter: the Date header of the same response is the reference.
    const { line, sleeps } = fx.client({ baseUrl: proxy.url, now: () => Date.now() - 600_000 });
    await line.listValidKeyIds(fx.creds);
    assert.deepEqual(sleeps, [42_000]);
    assert.match(proxy.requests.at(-1)!.url, /^\/oauth2\/v2\.1\/tokens\/kid\?/);
  });

  test("a Retry-After beyond maxRetryAfterMs is not slept through: the error carries it", async () => {
    await injectFault(fx.emu.url, { method: "GET", path: KID, status: 429, retryAfter: 120, count: 1 });
    const { line, sleeps } = fx.client();
    const e = await rejection(line.listValidKeyIds(fx.creds));
    assert.ok(e instanceof LineApiError);
    assert.equal(e.code, "ERR_LINE_RATE_LIMITED");
    assert.equal(e.retryAfterMs, 120_000);
    assert.equal(e.delivery, "answered");
    assert.deepEqual(sleeps, []);
  });

  test("parseRetryAfter reads both forms and never goes negative", () => {
    assert.equal(parseRetryAfter("5", null, 0), 5000);
    assert.equal(parseRetryAfter("Sun, 22 Nov 2026 04:00:30 GMT", "Sun, 22 Nov 2026 04:00:00 GMT", 0), 30_000);
    assert.equal(parseRetryAfter("Sun, 22 Nov 2026 04:00:30 GMT", null, Date.parse("Sun, 22 Nov 2026 04:00:10 GMT")), 20_000);
    assert.equal(parseRetryAfter("Sun, 22 Nov 2026 03:00:00 GMT", "Sun, 22 Nov 2026 04:00:00 GMT", 0), 0);
    assert.equal(parseRetryAfter("soon", null, 0), undefined);
    assert.equal(parseRetryAfter(null, null, 0), undefined);
  });
});

describe("never retried", () => {
  for (const status of [400, 401, 403, 404, 409]) {
    test(`${status} on an idempotent call: one attempt, no sleep`, async () => {
      await injectFault(fx.emu.url, { method: "GET", path: KID, status, count: 1 });
      const { line, sleeps, attempts } = fx.client();
      const e = await rejection(line.listValidKeyIds(fx.creds));
      assert.ok(e instanceof LineApiError);
      assert.equal(e.status, status);
      assert.equal(e.delivery, "answered");
      assert.equal(attempts.length, 1);
      assert.deepEqual(sleeps, []);
    });
  }

  test("401 has its own code", async () => {
    await injectFault(fx.emu.url, { method: "GET", path: KID, status: 401, count: 1 });
    const { line } = fx.client();
    const e = await rejection(line.listValidKeyIds(fx.creds));
    assert.equal(e.code, "ERR_LINE_UNAUTHORIZED");
  });

  test("maxAttempts 1 disables retries", async () => {
    await injectFault(fx.emu.url, { method: "GET", path: KID, status: 503, count: 1 });
    const { line, attempts } = fx.client({ retry: { maxAttempts: 1 } });
    const e = await rejection(line.listValidKeyIds(fx.creds));
    assert.equal(e.code, "ERR_LINE_SERVER");
    assert.equal(attempts.length, 1);
  });
});
