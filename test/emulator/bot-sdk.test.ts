// The official @line/bot-sdk, a client nobody here wrote, pointed at the emulator: proof that the
// emulator speaks LINE's wire format.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { channelAccessToken, messagingApi, validateSignature, HTTPFetchError } from "@line/bot-sdk";
import {
  deliverTestWebhook, emulatorNowSeconds, sentMessages, signAssertion, tokenLedger,
  type TestChannel, type TestEmulator,
} from "../helpers/emulator.ts";
import { startEmulatorWithChannel, startWebhookReceiver, type WebhookReceiver } from "../helpers/emulator-fixture.ts";

const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

let emu: TestEmulator;
let ch: TestChannel;
let receiver: WebhookReceiver;

before(async () => {
  ({ emu, ch } = await startEmulatorWithChannel());
  receiver = await startWebhookReceiver();
});
after(async () => {
  await emu.close();
  await receiver.close();
});

test("@line/bot-sdk issues, lists, verifies and revokes a v2.1 token against the emulator", async () => {
  const client = new channelAccessToken.ChannelAccessTokenClient({ baseURL: emu.url });
  const assertion = () => emulatorNowSeconds(emu.url).then((nowSeconds) => signAssertion(ch, { nowSeconds, claims: { token_exp: 86400 } }));
  const issued = await client.issueChannelTokenByJWT("client_credentials", JWT_BEARER, await assertion());
  assert.equal(issued.token_type, "Bearer");
  assert.equal(issued.expires_in, 86400);
  assert.equal(typeof issued.key_id, "string");

  const { kids } = await client.getsAllValidChannelAccessTokenKeyIds(JWT_BEARER, await assertion());
  assert.deepEqual(kids, [issued.key_id]);

  const verified = await client.verifyChannelTokenByJWT(issued.access_token);
  assert.equal(verified.client_id, ch.channelId);
  assert.ok(verified.expires_in > 86000 && verified.expires_in <= 86400);

  await client.revokeChannelTokenByJWT(ch.channelId, ch.channelSecret, issued.access_token);
  const rows = await tokenLedger(emu.url, ch.channelId);
  assert.equal(rows.find((r) => r.key_id === issued.key_id)?.state, "revoked");
  assert.deepEqual((await client.getsAllValidChannelAccessTokenKeyIds(JWT_BEARER, await assertion())).kids, []);

  // The SDK surfaces LINE's error as an HTTPFetchError carrying the status and body.
  await assert.rejects(client.verifyChannelTokenByJWT(issued.access_token), (e: unknown) => e instanceof HTTPFetchError && e.status === 400);
});

test("@line/bot-sdk replies to a webhook and pushes; the SDK validates the webhook signature", async () => {
  const tokens = new channelAccessToken.ChannelAccessTokenClient({ baseURL: emu.url });
  const { access_token } = await tokens.issueChannelTokenByJWT("client_credentials", JWT_BEARER, signAssertion(ch, { nowSeconds: await emulatorNowSeconds(emu.url) }));
  const bot = new messagingApi.MessagingApiClient({ channelAccessToken: access_token, baseURL: emu.url });

  const delivery = await deliverTestWebhook(emu.url, { channelId: ch.channelId, url: receiver.url, events: [{ type: "message", message: { type: "text", id: "1", text: "hello" } }] });
  assert.equal(delivery.status, 200);
  const lastWebhook = receiver.received.at(-1);
  assert.ok(lastWebhook);
  assert.equal(validateSignature(lastWebhook.body, ch.channelSecret, String(lastWebhook.headers["x-line-signature"])), true);
  const replyToken = JSON.parse(lastWebhook.body).events[0].replyToken as string;

  const replied = await bot.replyMessage({ replyToken, messages: [{ type: "text", text: "hi back" }] });
  assert.equal(replied.sentMessages.length, 1);
  assert.equal(typeof replied.sentMessages[0]!.id, "string");

  const to = "U" + "f".repeat(32);
  const pushed = await bot.pushMessage({ to, messages: [{ type: "text", text: "pushed" }] }, randomUUID());
  assert.equal(pushed.sentMessages.length, 1);

  const recorded = await sentMessages(emu.url, ch.channelId);
  assert.deepEqual(recorded.map((m) => m.kind), ["reply", "push"]);
  assert.equal(recorded[1].to, to);
});
