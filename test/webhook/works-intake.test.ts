// The intake's LINE WORKS platform in-process: the web-standard handler's works route and the
// node listener's agree on the answers and on the de-duplication key (a Worker and a Node
// instance sharing one store must see the same callback as one), bot secrets are apart from
// channel secrets, and a bot's handlers get validated LINE WORKS events.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { createWebhookHandler } from "../../src/webhook/handler.ts";
import { nodeDigest } from "../../src/webhook/adapters/node.ts";
import { LINE_WORKS_PLATFORM, webDigest, type RejectInfo } from "../../src/webhook/intake.ts";
import { createBot } from "../../src/webhook/bot.ts";
import type { DeliveryInfo } from "../../src/webhook/options.ts";
import type { WebhookEvent } from "../../src/webhook/types.ts";
import { memoryLogger } from "./fixtures.ts";

const BOT = "2000001";
const BOT_SECRET = "works-bot-secret-" + "x".repeat(16);
const CHANNEL_SECRET = "c".repeat(32);
const sign = (secret: string, text: string): string => createHmac("sha256", secret).update(text).digest("base64");
const callback = (text: string, headers: Record<string, string>, bot = BOT): Request =>
  new Request(`http://kagiya.test/webhook/works/${bot}`, { method: "POST", body: text, headers: { "content-type": "application/json", ...headers } });

test("the web handler's works route: 200 and the event with platform line-works; 401 for LINE's header, a channel secret, an unknown bot; 400 for an array", async () => {
  const seen: Array<{ event: WebhookEvent; info: DeliveryInfo }> = [];
  const rejects: RejectInfo[] = [];
  const handler = createWebhookHandler({
    secretFor: (id) => (id === BOT ? CHANNEL_SECRET : null),
    botSecretFor: (id) => (id === BOT ? BOT_SECRET : null),
    onEvent: (event, info) => void seen.push({ event, info }),
    onReject: (r) => void rejects.push(r),
  });
  const text = JSON.stringify({ type: "message", source: { userId: "u1" }, content: { type: "text", text: "hi" } });
  assert.equal((await handler.works(callback(text, { "x-works-signature": sign(BOT_SECRET, text) }))).status, 200);
  await handler.drain();
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0]!.info, { channelId: BOT, destination: BOT, platform: "line-works" });
  // A channel with the same ID as the bot keeps its own secret: neither signs for the other.
  assert.equal((await handler.works(callback(text, { "x-works-signature": sign(CHANNEL_SECRET, text) }))).status, 401);
  assert.equal((await handler.works(callback(text, { "x-line-signature": sign(BOT_SECRET, text) }))).status, 401);
  assert.equal((await handler.works(callback(text, { "x-works-signature": sign(BOT_SECRET, text) }, "2000002"))).status, 401);
  assert.equal((await handler.works(callback("[]", { "x-works-signature": sign(BOT_SECRET, "[]") }))).status, 400);
  assert.ok(rejects.every((r) => r.platform === "line-works"));
  assert.equal(rejects.length, 4);
  // The same bytes again are a duplicate.
  assert.equal((await handler.works(callback(text, { "x-works-signature": sign(BOT_SECRET, text) }))).status, 200);
  await handler.drain();
  assert.equal(seen.length, 1);
  await handler.close();
});

test("without botSecretFor every LINE WORKS callback is refused 401", async () => {
  const handler = createWebhookHandler({ channelSecret: CHANNEL_SECRET, onEvent: () => {} });
  const text = JSON.stringify({ type: "message", source: { userId: "u1" }, content: { type: "text", text: "hi" } });
  const r = await handler.works(callback(text, { "x-works-signature": sign(CHANNEL_SECRET, text) }));
  assert.equal(r.status, 401);
  assert.match(await r.text(), /X-WORKS-Signature/);
});

test("the WebCrypto and node:crypto digests give the same key, which names the bot and changes with the body", async () => {
  const bytes = new TextEncoder().encode('{"type":"message"}');
  const web = await webDigest(BOT, bytes);
  assert.equal(nodeDigest(BOT, bytes), web);
  assert.match(web, /^[0-9a-f]{64}$/);
  assert.notEqual(nodeDigest("2000002", bytes), web);
  assert.notEqual(nodeDigest(BOT, new TextEncoder().encode('{"type":"message" }')), web);
  assert.equal(LINE_WORKS_PLATFORM.key(BOT, {}, web), `works:${BOT}:${web}`);
});

test("bot.onWorks handlers get LINE WORKS events only, validated first; LINE handlers never see them", async () => {
  const logger = memoryLogger();
  const sent: unknown[] = [];
  const bot = createBot({
    tokens: { get: async (id) => ({ channelId: id, accessToken: "tok", keyId: "k", tokenType: "Bearer", issuedAt: 0, expiresAt: Date.now() + 60_000 }), invalidate: async () => {} },
    line: { replyMessage: async () => ({ sentMessages: [] }), pushMessage: async () => ({ sentMessages: [], retryKey: "r" }) },
    works: { client: { sendBotMessage: async (_t, m) => void sent.push(m) }, credentialFor: () => "works-app" },
    logger,
  });
  const lineSeen: string[] = [];
  const worksSeen: string[] = [];
  bot.on("message", (e) => void lineSeen.push(e.type));
  bot.onWorks("message", async (e, ctx) => {
    worksSeen.push(e.content.type);
    await ctx.reply({ type: "text", text: "ok" });
  });
  bot.onWorks("joined", (e) => void worksSeen.push(`joined ${e.members.length}`));
  const info: DeliveryInfo = { channelId: BOT, destination: BOT, platform: "line-works" };
  const ev = (e: Record<string, unknown>) => e as unknown as WebhookEvent;
  await bot.dispatch(ev({ type: "message", source: { userId: "u1", channelId: "room" }, content: { type: "text", text: "hi" } }), info);
  await bot.dispatch(ev({ type: "joined", source: { channelId: "room" }, members: ["a", "b"] }), info);
  for (const bad of [{ type: "message", source: { userId: "u1" } }, { type: "message", content: { type: "text" } }, { type: "joined", source: { channelId: "room" } }]) {
    await bot.dispatch(ev(bad), info);
  }
  assert.deepEqual(worksSeen, ["text", "joined 2"]);
  assert.deepEqual(lineSeen, []);
  assert.deepEqual(sent, [{ botId: BOT, channelId: "room", content: { type: "text", text: "ok" } }]);
  assert.equal(logger.lines.filter((l) => l.message === "malformed LINE WORKS event skipped").length, 3);
});
