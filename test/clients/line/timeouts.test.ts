import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { LineAbortedError, LineTimeoutError } from "../../../src/clients/line/index.ts";
import { injectFault } from "../../helpers/emulator.ts";
import { closeProxiedLineFixture, proxiedLineFixture, rejection, resetProxiedLineFixture, type LineFixture } from "./fixture.ts";
import type { TestProxy } from "./proxy.ts";

const KID = "/oauth2/v2.1/tokens/kid";
let fx: LineFixture;
let proxy: TestProxy;
before(async () => ({ fx, proxy } = await proxiedLineFixture()));
after(() => closeProxiedLineFixture(fx, proxy));
afterEach(() => resetProxiedLineFixture(fx, proxy));

describe("timeouts (emulator delayMs beyond the client's deadlines)", () => {
  test("no response headers within connectTimeoutMs: ERR_LINE_TIMEOUT phase headers, ambiguous, retried on an idempotent call", async () => {
    await injectFault(fx.emu.url, { method: "GET", path: KID, delayMs: 1500 });
    const { line, attempts } = fx.client({ connectTimeoutMs: 300, retry: { maxAttempts: 2 } });
    const e = await rejection(line.listValidKeyIds(fx.creds));
    assert.ok(e instanceof LineTimeoutError);
    assert.equal(e.phase, "headers");
    assert.equal(e.timeoutMs, 300);
    assert.equal(e.ambiguous, true);
    assert.equal(e.attempts, 2);
    assert.deepEqual(attempts.map((a) => a.errorCode), ["ERR_LINE_TIMEOUT", "ERR_LINE_TIMEOUT"]);
  });

  test("a body that stalls after its headers: ERR_LINE_TIMEOUT phase total", async () => {
    proxy.rewrite = (req, res) => (req.url.startsWith(KID) ? { ...res, stallBodyMs: 4000 } : undefined);
    const { line } = fx.client({ baseUrl: proxy.url, connectTimeoutMs: 1000, timeoutMs: 1200, retry: { maxAttempts: 1 } });
    const e = await rejection(line.listValidKeyIds(fx.creds));
    assert.ok(e instanceof LineTimeoutError);
    assert.equal(e.phase, "total");
    assert.equal(e.timeoutMs, 1200);
  });

  test("issue: a timeout is not retried (it may have issued a token)", async () => {
    await injectFault(fx.emu.url, { method: "POST", path: "/oauth2/v2.1/token", delayMs: 1500, count: 1 });
    const { line, attempts, sleeps } = fx.client({ connectTimeoutMs: 300 });
    const e = await rejection(line.issueChannelToken(fx.creds));
    assert.ok(e instanceof LineTimeoutError);
    assert.equal(e.ambiguous, true);
    assert.equal(attempts.length, 1);
    assert.deepEqual(sleeps, []);
  });

  test("connectTimeoutMs is kept at most timeoutMs", () => {
    const { line } = fx.client({ connectTimeoutMs: 10_000, timeoutMs: 2_000 });
    assert.equal(line.config.connectTimeoutMs, 2_000);
  });
});

describe("the caller's AbortSignal", () => {
  test("aborted while the request is at LINE: ERR_LINE_ABORTED, ambiguous", async () => {
    const controller = new AbortController();
    proxy.onRequest = () => controller.abort();
    proxy.rewrite = (_req, res) => ({ ...res, stallBodyMs: 1000 });
    const { line, attempts } = fx.client({ baseUrl: proxy.url });
    const e = await rejection(line.issueChannelToken(fx.creds, { signal: controller.signal }));
    assert.ok(e instanceof LineAbortedError);
    assert.equal(e.code, "ERR_LINE_ABORTED");
    assert.equal(e.delivery, "ambiguous");
    assert.equal(attempts.length, 0);
  });

  test("already aborted: nothing is sent", async () => {
    const { line } = fx.client({ baseUrl: proxy.url });
    const before = proxy.requests.length;
    const e = await rejection(line.listValidKeyIds(fx.creds, { signal: AbortSignal.abort() }));
    assert.ok(e instanceof LineAbortedError);
    assert.equal(e.delivery, "not_sent");
    assert.equal(proxy.requests.length, before);
  });

  test("aborted during the backoff sleep: no further attempt", async () => {
    await injectFault(fx.emu.url, { method: "GET", path: KID, status: 503 });
    const controller = new AbortController();
    const { line, attempts } = fx.client({
      sleep: async (_ms, signal) => {
        controller.abort();
        if (signal?.aborted) throw signal.reason;
      },
    });
    const e = await rejection(line.listValidKeyIds(fx.creds, { signal: controller.signal }));
    assert.ok(e instanceof LineAbortedError);
    assert.equal(e.delivery, "ambiguous"); // the 503 before it may have taken effect
    assert.equal(attempts.length, 1);
  });
});
