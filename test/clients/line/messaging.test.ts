import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { LineApiError, LineBadResponseError } from "../../../src/clients/line/index.ts";
import { InvalidInputError } from "../../../src/core/errors.ts";
import { deliverTestWebhook, injectFault, sentMessages } from "../../helpers/emulator.ts";
import { closeProxiedLineFixture, proxiedLineFixture, rejection, resetProxiedLineFixture, type LineFixture } from "./fixture.ts";
import type { TestProxy } from "./proxy.ts";

const PUSH = "/v2/bot/message/push";
const REPLY = "/v2/bot/message/reply";
const USER = `U${"0123456789abcdef".repeat(2)}`;
const HELLO = [{ type: "text", text: "こんにちは!" }];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let fx: LineFixture;
let proxy: TestProxy;
let accessToken: string;
before(async () => {
  ({ fx, proxy } = await proxiedLineFixture());
  accessToken = (await fx.client().line.issueChannelToken(fx.creds)).access_token;
});
after(() => closeProxiedLineFixture(fx, proxy));
afterEach(async () => {
  await resetProxiedLineFixture(fx, proxy);
  proxy.requests.length = 0;
});

async function replyToken(): Promise<string> {
  // Delivery to a closed port fails, but the emulator still mints the reply token.
  const r = await deliverTestWebhook(fx.emu.url, { channelId: fx.channel.channelId, url: "http://127.0.0.1:9/webhook", events: [{ type: "message", message: { type: "text", id: "1", text: "hi" } }] });
  return r.replyTokens[0]!;
}

async function messagesWith(field: "retryKey" | "replyToken", value: string): Promise<any[]> {
  return (await sentMessages(fx.emu.url, fx.channel.channelId)).filter((m) => m[field] === value);
}

describe("reply", () => {
  test("sends without a retry key and returns sentMessages", async () => {
    const { line } = fx.client({ baseUrl: proxy.url });
    const token = await replyToken();
    const r = await line.replyMessage(accessToken, { replyToken: token, messages: HELLO });
    assert.equal(r.sentMessages.length, 1);
    assert.equal(typeof r.sentMessages[0]!.id, "string");
    assert.equal(typeof r.requestId, "string");
    assert.equal(proxy.requests.length, 1);
    assert.equal(proxy.requests[0]!.headers["x-line-retry-key"], undefined);
    assert.equal((await messagesWith("replyToken", token)).length, 1);
  });

  test("a 503 is retried; the message is sent once", async () => {
    await injectFault(fx.emu.url, { method: "POST", path: REPLY, status: 503, count: 1 });
    const { line, attempts } = fx.client();
    const token = await replyToken();
    await line.replyMessage(accessToken, { replyToken: token, messages: HELLO });
    assert.deepEqual(attempts.map((a) => a.status), [503, 200]);
    assert.equal((await messagesWith("replyToken", token)).length, 1);
  });

  test("an invalid reply token is a 400, not retried", async () => {
    const { line, attempts } = fx.client();
    const e = await rejection(line.replyMessage(accessToken, { replyToken: "nope", messages: HELLO }));
    assert.ok(e instanceof LineApiError);
    assert.equal(e.status, 400);
    assert.match(e.lineMessage ?? "", /Invalid reply token/);
    assert.equal(attempts.length, 1);
  });

  test("429 is not retried", async () => {
    await injectFault(fx.emu.url, { method: "POST", path: REPLY, status: 429, retryAfter: 1, count: 1 });
    const { line, attempts } = fx.client();
    const e = await rejection(line.replyMessage(accessToken, { replyToken: await replyToken(), messages: HELLO }));
    assert.equal(e.code, "ERR_LINE_RATE_LIMITED");
    assert.equal(e.retryAfterMs, 1000);
    assert.equal(attempts.length, 1);
  });

  test("a body cut off after the reply was accepted is not re-sent (no retry key to make it safe)", async () => {
    await injectFault(fx.emu.url, { method: "POST", path: REPLY, truncate: true, count: 1 });
    const { line, attempts } = fx.client();
    const token = await replyToken();
    const e = await rejection(line.replyMessage(accessToken, { replyToken: token, messages: HELLO }));
    assert.ok(e instanceof LineBadResponseError);
    assert.equal(e.ambiguous, true);
    assert.equal(attempts.length, 1);
    assert.equal((await messagesWith("replyToken", token)).length, 1);
  });

  test("a bad access token is ERR_LINE_UNAUTHORIZED, not retried", async () => {
    const { line, attempts } = fx.client();
    const e = await rejection(line.replyMessage("not-a-valid-token", { replyToken: await replyToken(), messages: HELLO }));
    assert.equal(e.code, "ERR_LINE_UNAUTHORIZED");
    assert.equal(e.status, 401);
    assert.equal(attempts.length, 1);
  });
});

describe("push with X-Line-Retry-Key", () => {
  test("sends a fresh UUID retry key", async () => {
    const { line } = fx.client({ baseUrl: proxy.url });
    const r = await line.pushMessage(accessToken, { to: USER, messages: HELLO });
    assert.match(r.retryKey, UUID);
    assert.equal(r.duplicate, false);
    assert.equal(proxy.requests[0]!.headers["x-line-retry-key"], r.retryKey);
    const sent = await messagesWith("retryKey", r.retryKey);
    assert.equal(sent.length, 1);
    assert.deepEqual(r.sentMessages, sent[0].sentMessages);
  });

  test("5xx: retried with the same key and the same bytes; delivered once", async () => {
    await injectFault(fx.emu.url, { method: "POST", path: PUSH, status: 500, count: 2 });
    const { line } = fx.client({ baseUrl: proxy.url });
    const r = await line.pushMessage(accessToken, { to: USER, messages: HELLO });
    assert.equal(proxy.requests.length, 3);
    assert.deepEqual(new Set(proxy.requests.map((q) => q.headers["x-line-retry-key"])), new Set([r.retryKey]));
    assert.equal(new Set(proxy.requests.map((q) => q.body)).size, 1);
    assert.equal((await messagesWith("retryKey", r.retryKey)).length, 1);
  });

  test("a reset: retried with the same key", async () => {
    await injectFault(fx.emu.url, { method: "POST", path: PUSH, reset: true, count: 1 });
    const { line, attempts } = fx.client();
    const r = await line.pushMessage(accessToken, { to: USER, messages: HELLO });
    assert.deepEqual(attempts.map((a) => a.status), [0, 200]);
    assert.equal((await messagesWith("retryKey", r.retryKey)).length, 1);
  });

  test("accepted but the answer was lost: the retry's 409 is success with the original sentMessages", async () => {
    await injectFault(fx.emu.url, { method: "POST", path: PUSH, truncate: true, count: 1 });
    const { line, attempts } = fx.client();
    const r = await line.pushMessage(accessToken, { to: USER, messages: HELLO });
    assert.deepEqual(attempts.map((a) => a.status), [200, 409]);
    assert.equal(r.duplicate, true);
    assert.equal(typeof r.acceptedRequestId, "string");
    const sent = await messagesWith("retryKey", r.retryKey);
    assert.equal(sent.length, 1);
    assert.deepEqual(r.sentMessages, sent[0].sentMessages);
  });

  test("a timeout: retried with the same key, delivered once", async () => {
    await injectFault(fx.emu.url, { method: "POST", path: PUSH, delayMs: 2000, count: 1 });
    const { line, attempts } = fx.client({ connectTimeoutMs: 500 });
    const r = await line.pushMessage(accessToken, { to: USER, messages: HELLO });
    assert.equal(attempts[0]!.errorCode, "ERR_LINE_TIMEOUT");
    assert.equal(attempts.at(-1)!.status, 200);
    assert.equal((await messagesWith("retryKey", r.retryKey)).length, 1);
  });

  test("the caller's retry key: a repeat is a duplicate carrying the first sentMessages", async () => {
    const { line } = fx.client();
    const retryKey = "123e4567-e89b-42d3-a456-426614174000";
    const first = await line.pushMessage(accessToken, { to: USER, messages: HELLO }, { retryKey });
    const again = await line.pushMessage(accessToken, { to: USER, messages: HELLO }, { retryKey });
    assert.equal(first.duplicate, false);
    assert.equal(again.duplicate, true);
    assert.deepEqual(again.sentMessages, first.sentMessages);
    assert.equal(again.acceptedRequestId, first.requestId);
  });

  test("429 and 4xx are not retried; the error carries the retry key for a later attempt", async () => {
    await injectFault(fx.emu.url, { method: "POST", path: PUSH, status: 429, retryAfter: 30, count: 1 });
    const { line, attempts } = fx.client();
    const e = await rejection(line.pushMessage(accessToken, { to: USER, messages: HELLO }));
    assert.ok(e instanceof LineApiError);
    assert.equal(e.code, "ERR_LINE_RATE_LIMITED");
    assert.match(e.retryKey ?? "", UUID);
    assert.equal(e.retryAfterMs, 30_000);
    assert.equal(attempts.length, 1);
    await injectFault(fx.emu.url, { method: "POST", path: PUSH, status: 400, count: 1 });
    attempts.length = 0;
    const e2 = await rejection(line.pushMessage(accessToken, { to: USER, messages: HELLO }));
    assert.equal(e2.status, 400);
    assert.equal(attempts.length, 1);
  });

  test("a 409 without sentMessages is an error, not a success", async () => {
    await injectFault(fx.emu.url, { method: "POST", path: PUSH, status: 409, count: 1 });
    const { line } = fx.client();
    const e = await rejection(line.pushMessage(accessToken, { to: USER, messages: HELLO }));
    assert.ok(e instanceof LineApiError);
    assert.equal(e.status, 409);
  });

  test("input is checked before sending", async () => {
    const { line, attempts } = fx.client();
    await assert.rejects(line.pushMessage(accessToken, { to: USER, messages: [] }), InvalidInputError);
    await assert.rejects(line.pushMessage(accessToken, { to: USER, messages: Array(6).fill(HELLO[0]) }), InvalidInputError);
    await assert.rejects(line.pushMessage(accessToken, { to: "", messages: HELLO }), InvalidInputError);
    await assert.rejects(line.pushMessage(accessToken, { to: USER, messages: HELLO }, { retryKey: "not-a-uuid" }), InvalidInputError);
    await assert.rejects(line.replyMessage(accessToken, { replyToken: "", messages: HELLO }), InvalidInputError);
    assert.equal(attempts.length, 0);
  });
});
