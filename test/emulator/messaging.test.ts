import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomUUID } from "node:crypto";
import {
  advanceClock, createTestChannel, deliverTestWebhook, emulatorJson, issueTestToken, postForm, sentMessages,
  type TestChannel, type TestEmulator,
} from "../helpers/emulator.ts";
import { startEmulatorWithChannel, startWebhookReceiver, type WebhookReceiver } from "../helpers/emulator-fixture.ts";

let emu: TestEmulator;
let ch: TestChannel;
let token: string;
/** A real webhook receiver: records each request's headers and raw body. */
let receiver: WebhookReceiver;
let receiverUrl: string;
let received: WebhookReceiver["received"];

before(async () => {
  ({ emu, ch } = await startEmulatorWithChannel());
  token = (await issueTestToken(emu.url, ch)).access_token;
  receiver = await startWebhookReceiver("/callback");
  ({ url: receiverUrl, received } = receiver);
});
after(async () => {
  await emu.close();
  await receiver.close();
});

async function api(path: string, body: unknown, headers: Record<string, string> = {}, bearer: string | null = token): Promise<{ status: number; headers: Headers; body: any }> {
  const h: Record<string, string> = { "content-type": "application/json", ...headers };
  if (bearer !== null) h["authorization"] = `Bearer ${bearer}`;
  const res = await fetch(emu.url + path, { method: "POST", headers: h, body: typeof body === "string" ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === "" ? undefined : JSON.parse(text) };
}

const text = (t: string) => ({ type: "text", text: t });

describe("POST /__emulator/webhooks", () => {
  test("delivers a signed LINE webhook with completed events and mints reply tokens", async () => {
    const r = await deliverTestWebhook(emu.url, { channelId: ch.channelId, url: receiverUrl, events: [{ type: "message", message: { type: "text", id: "1", text: "hi" } }, { type: "unfollow" }] });
    assert.equal(r.delivered, true);
    assert.equal(r.status, 200);
    assert.equal(r.replyTokens.length, 1);
    const got = received.at(-1)!;
    assert.equal(got.body, r.body);
    const expected = createHmac("sha256", ch.channelSecret).update(got.body).digest("base64");
    assert.equal(got.headers["x-line-signature"], expected);
    const body = JSON.parse(got.body);
    assert.equal(body.destination, ch.botUserId);
    assert.equal(body.events.length, 2);
    const [msg, unfollow] = body.events;
    assert.equal(msg.replyToken, r.replyTokens[0]);
    assert.equal(unfollow.replyToken, undefined);
    for (const e of body.events) {
      assert.match(e.webhookEventId, /^[0-9A-HJKMNP-TV-Z]{26}$/);
      assert.deepEqual(e.deliveryContext, { isRedelivery: false });
      assert.equal(e.mode, "active");
      assert.equal(typeof e.timestamp, "number");
      assert.equal(e.source.type, "user");
      assert.match(e.source.userId, /^U[0-9a-f]{32}$/);
    }
  });

  test("signs exactly like LINE's documented test vector", async () => {
    const { body: c } = await emulatorJson(emu.url, "POST", "/__emulator/channels", { channelSecret: "8c570fa6dd201bb328f1c1eac23a96d8", botUserId: "U8e742f61d673b39c7fff3cecb7536ef0" });
    const r = await deliverTestWebhook(emu.url, { channelId: c.channelId, url: receiverUrl, events: [] });
    assert.equal(received.at(-1)!.body, '{"destination":"U8e742f61d673b39c7fff3cecb7536ef0","events":[]}');
    assert.equal(received.at(-1)!.headers["x-line-signature"], "GhRKmvmHys4Pi8DxkF4+EayaH0OqtJtaZxgTD9fMDLs=");
    assert.equal(r.signature, "GhRKmvmHys4Pi8DxkF4+EayaH0OqtJtaZxgTD9fMDLs=");
  });

  test("an empty events array (connectivity check) is delivered as is", async () => {
    const r = await deliverTestWebhook(emu.url, { channelId: ch.channelId, url: receiverUrl, events: [] });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(received.at(-1)!.body), { destination: ch.botUserId, events: [] });
  });

  test("standby events get no reply token; redelivery is flagged and keeps the caller's webhookEventId", async () => {
    const r = await deliverTestWebhook(emu.url, { channelId: ch.channelId, url: receiverUrl, redelivery: true, events: [{ type: "message", mode: "standby", webhookEventId: "01HZZZZZZZZZZZZZZZZZZZZZZZ" }] });
    assert.deepEqual(r.replyTokens, []);
    const e = JSON.parse(received.at(-1)!.body).events[0];
    assert.equal(e.webhookEventId, "01HZZZZZZZZZZZZZZZZZZZZZZZ");
    assert.deepEqual(e.deliveryContext, { isRedelivery: true });
  });

  test("an unreachable target is reported, not thrown", async () => {
    const r = await deliverTestWebhook(emu.url, { channelId: ch.channelId, url: "http://127.0.0.1:1/x", events: [{ type: "follow" }] });
    assert.equal(r.delivered, false);
    assert.equal(r.status, null);
    assert.equal(r.replyTokens.length, 1);
  });

  test("unknown channel is 404, bad events 400", async () => {
    assert.equal((await emulatorJson(emu.url, "POST", "/__emulator/webhooks", { channelId: "1", url: receiverUrl, events: [] })).status, 404);
    assert.equal((await emulatorJson(emu.url, "POST", "/__emulator/webhooks", { channelId: ch.channelId, url: receiverUrl, events: [1] })).status, 400);
    assert.equal((await emulatorJson(emu.url, "POST", "/__emulator/webhooks", { channelId: ch.channelId, url: "ftp://x", events: [] })).status, 400);
  });
});

describe("POST /v2/bot/message/reply", () => {
  async function replyToken(): Promise<string> {
    return (await deliverTestWebhook(emu.url, { channelId: ch.channelId, url: receiverUrl, events: [{ type: "message" }] })).replyTokens[0]!;
  }

  test("a reply token works once; the reply is recorded with string ids", async () => {
    const rt = await replyToken();
    const r = await api("/v2/bot/message/reply", { replyToken: rt, messages: [text("a"), { type: "sticker", packageId: "1", stickerId: "1" }] });
    assert.equal(r.status, 200);
    assert.equal(r.body.sentMessages.length, 2);
    for (const m of r.body.sentMessages) assert.match(m.id, /^\d{18,}$/);
    assert.ok(BigInt(r.body.sentMessages[0].id) > 2n ** 53n);
    assert.ok(r.headers.get("x-line-request-id"));
    const again = await api("/v2/bot/message/reply", { replyToken: rt, messages: [text("a")] });
    assert.equal(again.status, 400);
    assert.deepEqual(again.body, { message: "Invalid reply token" });
    const rec = (await sentMessages(emu.url, ch.channelId)).find((m) => m.replyToken === rt);
    assert.equal(rec.kind, "reply");
    assert.deepEqual(rec.body.messages[0], text("a"));
    assert.equal(rec.requestId, r.headers.get("x-line-request-id"));
  });

  test("a reply token expires one emulated minute after its webhook", async () => {
    const rt = await replyToken();
    await advanceClock(emu.url, 61);
    const r = await api("/v2/bot/message/reply", { replyToken: rt, messages: [text("late")] });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { message: "Invalid reply token" });
  });

  test("refuses X-Line-Retry-Key, bad message counts, unknown types", async () => {
    const rt = await replyToken();
    let r = await api("/v2/bot/message/reply", { replyToken: rt, messages: [text("a")] }, { "x-line-retry-key": randomUUID() });
    assert.equal(r.status, 400);
    r = await api("/v2/bot/message/reply", { replyToken: rt, messages: [] });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { message: "The request body has 1 error(s)", details: [{ message: "Size must be between 1 and 5", property: "messages" }] });
    r = await api("/v2/bot/message/reply", { replyToken: rt, messages: Array.from({ length: 6 }, () => text("x")) });
    assert.equal(r.status, 400);
    r = await api("/v2/bot/message/reply", { replyToken: rt, messages: [{ type: "nope" }, { type: "text", text: "" }] });
    assert.equal(r.status, 400);
    assert.equal(r.body.message, "The request body has 2 error(s)");
    assert.deepEqual(r.body.details.map((d: { property: string }) => d.property), ["messages[0].type", "messages[1].text"]);
    // None of those consumed the token.
    r = await api("/v2/bot/message/reply", { replyToken: rt, messages: [text("ok")] });
    assert.equal(r.status, 200);
  });

  test("a reply token of another channel is invalid", async () => {
    const other = await createTestChannel(emu.url);
    const otherToken = (await issueTestToken(emu.url, other)).access_token;
    const rt = await replyToken();
    const r = await api("/v2/bot/message/reply", { replyToken: rt, messages: [text("a")] }, {}, otherToken);
    assert.equal(r.status, 400);
  });
});

describe("POST /v2/bot/message/push", () => {
  const to = "U" + "0123456789abcdef".repeat(2);

  test("pushes, and a repeated X-Line-Retry-Key gets 409 with the original request id and sentMessages", async () => {
    const key = randomUUID();
    const first = await api("/v2/bot/message/push", { to, messages: [text("hello")] }, { "x-line-retry-key": key });
    assert.equal(first.status, 200);
    const second = await api("/v2/bot/message/push", { to, messages: [text("hello")] }, { "x-line-retry-key": key });
    assert.equal(second.status, 409);
    assert.equal(second.body.message, "The retry key is already accepted");
    assert.deepEqual(second.body.sentMessages, first.body.sentMessages);
    assert.equal(second.headers.get("x-line-accepted-request-id"), first.headers.get("x-line-request-id"));
    assert.notEqual(second.headers.get("x-line-request-id"), first.headers.get("x-line-request-id"));
    const recs = (await sentMessages(emu.url, ch.channelId)).filter((m) => m.retryKey === key);
    assert.equal(recs.length, 1);
    assert.equal(recs[0].to, to);
  });

  test("the retry key is forgotten after 24 emulated hours", async () => {
    const key = randomUUID();
    // A fresh token: the clock jump expires short ones.
    const t = (await issueTestToken(emu.url, ch)).access_token;
    assert.equal((await api("/v2/bot/message/push", { to, messages: [text("a")] }, { "x-line-retry-key": key }, t)).status, 200);
    await advanceClock(emu.url, 24 * 3600);
    assert.equal((await api("/v2/bot/message/push", { to, messages: [text("a")] }, { "x-line-retry-key": key }, t)).status, 200);
  });

  test("a malformed retry key, a bad recipient and missing fields are 400", async () => {
    const t = (await issueTestToken(emu.url, ch)).access_token;
    let r = await api("/v2/bot/message/push", { to, messages: [text("a")] }, { "x-line-retry-key": "not-a-uuid" }, t);
    assert.equal(r.status, 400);
    r = await api("/v2/bot/message/push", { to: "someone", messages: [text("a")] }, {}, t);
    assert.equal(r.status, 400);
    assert.equal(r.body.message, "The property, 'to', in the request body is invalid (line: -, column: -)");
    r = await api("/v2/bot/message/push", { messages: [text("a")] }, {}, t);
    assert.deepEqual(r.body.details, [{ message: "must be specified", property: "to" }]);
  });

  test("missing, unknown, expired and revoked tokens get 401", async () => {
    let r = await api("/v2/bot/message/push", { to, messages: [text("a")] }, {}, null);
    assert.equal(r.status, 401);
    assert.match(r.body.message, /^Authorization header required/);
    r = await api("/v2/bot/message/push", { to, messages: [text("a")] }, {}, "unknown");
    assert.equal(r.status, 401);
    const short = await issueTestToken(emu.url, ch, { token_exp: 5 });
    await advanceClock(emu.url, 6);
    r = await api("/v2/bot/message/push", { to, messages: [text("a")] }, {}, short.access_token);
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, { message: "Authentication failed. Confirm that the access token in the authorization header is valid." });
    const t = await issueTestToken(emu.url, ch);
    const rv = await postForm(`${emu.url}/oauth2/v2.1/revoke`, { client_id: ch.channelId, client_secret: ch.channelSecret, access_token: t.access_token });
    assert.equal(rv.status, 200);
    r = await api("/v2/bot/message/push", { to, messages: [text("a")] }, {}, t.access_token);
    assert.equal(r.status, 401);
  });

  test("wrong content type is 415, invalid JSON 400, over 2 MB 413", async () => {
    const t = (await issueTestToken(emu.url, ch)).access_token;
    let r = await api("/v2/bot/message/push", "to=x", { "content-type": "application/x-www-form-urlencoded" }, t);
    assert.equal(r.status, 415);
    r = await api("/v2/bot/message/push", "{nope", {}, t);
    assert.equal(r.status, 400);
    r = await api("/v2/bot/message/push", JSON.stringify({ to, messages: [text("x".repeat(2 * 1024 * 1024))] }), {}, t);
    assert.equal(r.status, 413);
  });
});
