// The bot end to end: the emulator delivers signed webhooks over HTTP to kagiya's node:http
// adapter; replies and pushes go back to the emulator with tokens from the TokenManager.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createNodeWebhookListener } from "../../src/webhook/adapters/node.ts";
import { createBot } from "../../src/webhook/bot.ts";
import { createExampleBot, EXAMPLE_REPLY } from "../../src/webhook/example-bot.ts";
import { WebhookConfigError } from "../../src/webhook/errors.ts";
import { deliverTestWebhook, emulatorJson, injectFault, clearFaults, sentMessages, tokenLedger } from "../helpers/emulator.ts";
import { listen, startStack, type Stack } from "./emulator-setup.ts";
import { memoryLogger } from "./fixtures.ts";

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(() => stack.close());

const text = (t: string) => ({ type: "message", message: { type: "text", id: "1", text: t } });

test("the example bot replies こんにちは! to a text message delivered by the emulator", async () => {
  const ch = await stack.channel();
  const listener = createNodeWebhookListener({ secretFor: (id) => stack.secretFor(id), dedup: stack.store, bot: createExampleBot({ tokens: stack.manager, line: stack.line, logger: memoryLogger() }), logger: memoryLogger() });
  const server = await listen(listener);
  try {
    const d = await deliverTestWebhook(stack.emu.url, { channelId: ch.channelId, url: `${server.url}/webhook/${ch.channelId}`, events: [text("hello"), { type: "message", message: { type: "sticker", id: "2", packageId: "1", stickerId: "1" } }] });
    assert.equal(d.status, 200);
    await listener.drain();
    const log = await sentMessages(stack.emu.url, ch.channelId);
    assert.equal(log.length, 1, "one reply: text gets こんにちは!, the sticker nothing");
    assert.equal(log[0].kind, "reply");
    assert.equal(log[0].replyToken, d.replyTokens[0]);
    assert.deepEqual(log[0].body.messages, [{ type: "text", text: EXAMPLE_REPLY }]);
  } finally {
    await server.close();
  }
});

test("a redelivered event (same webhookEventId) is handled once through the Store's markOnce", async () => {
  const ch = await stack.channel();
  let calls = 0;
  const bot = createBot({ tokens: stack.manager, line: stack.line, logger: memoryLogger() }).on("message", async (_e, ctx) => {
    calls++;
    await ctx.reply({ type: "text", text: "once" });
  });
  // Two instances on one store, as two `kagiya serve` processes would be.
  const a = createNodeWebhookListener({ secretFor: (id) => stack.secretFor(id), dedup: stack.store, bot, logger: memoryLogger() });
  const b = createNodeWebhookListener({ secretFor: (id) => stack.secretFor(id), dedup: stack.store, bot, logger: memoryLogger() });
  const sa = await listen(a);
  const sb = await listen(b);
  try {
    const first = await deliverTestWebhook(stack.emu.url, { channelId: ch.channelId, url: `${sa.url}/webhook/${ch.channelId}`, events: [text("x")] });
    const id = first.webhookEventIds[0]!;
    for (const s of [sa, sb, sb]) {
      const again = await deliverTestWebhook(stack.emu.url, { channelId: ch.channelId, url: `${s.url}/webhook/${ch.channelId}`, events: [{ ...text("x"), webhookEventId: id }], redelivery: true });
      assert.equal(again.status, 200);
    }
    await Promise.all([a.drain(), b.drain()]);
    assert.equal(calls, 1);
    assert.equal((await sentMessages(stack.emu.url, ch.channelId)).length, 1);
  } finally {
    await sa.close();
    await sb.close();
  }
});

test("reply is skipped with a logged note in standby mode and when there is no reply token", async () => {
  const ch = await stack.channel();
  const logger = memoryLogger();
  const results: unknown[] = [];
  const bot = createBot({ tokens: stack.manager, line: stack.line, logger })
    .on("message", async (_e, ctx) => void results.push(await ctx.reply({ type: "text", text: "nope" })))
    .on("unfollow", async (_e, ctx) => void results.push(await ctx.reply({ type: "text", text: "nope" })));
  const listener = createNodeWebhookListener({ secretFor: (id) => stack.secretFor(id), bot, logger });
  const server = await listen(listener);
  try {
    const d = await deliverTestWebhook(stack.emu.url, { channelId: ch.channelId, url: `${server.url}/webhook/${ch.channelId}`, events: [{ ...text("s"), mode: "standby" }, { type: "unfollow" }] });
    assert.equal(d.status, 200);
    await listener.drain();
    assert.deepEqual(results, [null, null]);
    assert.deepEqual(await sentMessages(stack.emu.url, ch.channelId), []);
    const notes = logger.lines.filter((l) => l.message.startsWith("reply skipped")).map((l) => l.message);
    assert.deepEqual(notes, ["reply skipped: the channel is in standby mode for this chat", "reply skipped: the event has no reply token"]);
  } finally {
    await server.close();
  }
});

test("on a 401 from LINE the bot invalidates the token, gets a new one and retries once", async () => {
  const ch = await stack.channel();
  const stale = await stack.manager.get(ch.channelId);
  // Revoke it at LINE behind the manager's back: its cached token now gets 401.
  await stack.line.revokeChannelToken({ channelId: ch.channelId, channelSecret: ch.channelSecret, accessToken: stale.accessToken });
  const logger = memoryLogger();
  const listener = createNodeWebhookListener({ secretFor: (id) => stack.secretFor(id), bot: createExampleBot({ tokens: stack.manager, line: stack.line, logger }), logger });
  const server = await listen(listener);
  try {
    await deliverTestWebhook(stack.emu.url, { channelId: ch.channelId, url: `${server.url}/webhook/${ch.channelId}`, events: [text("hi")] });
    await listener.drain();
    const log = await sentMessages(stack.emu.url, ch.channelId);
    assert.equal(log.length, 1);
    assert.deepEqual(log[0].body.messages, [{ type: "text", text: EXAMPLE_REPLY }]);
    const fresh = await stack.manager.get(ch.channelId);
    assert.notEqual(fresh.keyId, stale.keyId);
    const ledger = await tokenLedger(stack.emu.url, ch.channelId);
    assert.equal(ledger.filter((t) => t.state === "valid").length, 1);
    assert.ok(logger.lines.some((l) => l.message.includes("(401)") && l.fields["keyId"] === stale.keyId));
    assert.ok(!JSON.stringify(logger.lines).includes(stale.accessToken));
  } finally {
    await server.close();
  }
});

test("push sends an X-Line-Retry-Key and the same key on the client's retry: one message at LINE", async () => {
  const ch = await stack.channel();
  const logger = memoryLogger();
  const keys: string[] = [];
  const bot = createBot({ tokens: stack.manager, line: stack.line, logger }).on("follow", async (event, ctx) => {
    const userId = (event.source as { userId: string }).userId;
    const r = await ctx.push(userId, { type: "text", text: "welcome" });
    keys.push(r.retryKey);
  });
  const listener = createNodeWebhookListener({ secretFor: (id) => stack.secretFor(id), bot, logger });
  const server = await listen(listener);
  try {
    await stack.manager.get(ch.channelId);
    // LINE accepts the push but the answer is cut off: the client retries with the same key, gets 409, and treats it as sent.
    await injectFault(stack.emu.url, { method: "POST", path: "/v2/bot/message/push", truncate: true, count: 1 });
    await deliverTestWebhook(stack.emu.url, { channelId: ch.channelId, url: `${server.url}/webhook/${ch.channelId}`, events: [{ type: "follow", follow: { isUnblocked: false } }] });
    await listener.drain();
    const log = await sentMessages(stack.emu.url, ch.channelId);
    assert.equal(keys.length, 1);
    assert.match(keys[0]!, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(log.length, 1, `exactly one push executed: ${JSON.stringify(logger.lines)}`);
    assert.equal(log[0].kind, "push");
    assert.equal(log[0].retryKey, keys[0]);
    assert.deepEqual((await emulatorJson(stack.emu.url, "GET", "/__emulator/faults")).body.faults, [], "the truncation fault was hit");
  } finally {
    await clearFaults(stack.emu.url);
    await server.close();
  }
});

test("a bot handler that throws is logged and the next handler still runs", async () => {
  const logger = memoryLogger();
  const seen: string[] = [];
  const bot = createBot({ tokens: stack.manager, line: stack.line, logger })
    .on("message", () => {
      throw new Error("first handler broke");
    })
    .on("message", () => void seen.push("second"));
  await bot.dispatch({ type: "message", mode: "active", timestamp: 0, webhookEventId: "01X", deliveryContext: { isRedelivery: false }, message: { type: "text", id: "1", text: "t" } }, { channelId: "1234567890", destination: "U" });
  assert.deepEqual(seen, ["second"]);
  assert.equal(logger.lines.filter((l) => l.message === "bot handler failed").length, 1);
});

test("createBot refuses missing tokens or client and unknown options", () => {
  assert.throws(() => createBot({ line: stack.line } as never), WebhookConfigError);
  assert.throws(() => createBot({ tokens: stack.manager } as never), WebhookConfigError);
  assert.throws(() => createBot({ tokens: stack.manager, line: stack.line, extra: 1 } as never), /Unknown bot option "extra"/);
});

test("a signed message event without a message member is logged as malformed, never thrown on; the next event is answered", async () => {
  const ch = await stack.channel();
  const botLog = memoryLogger();
  const intakeLog = memoryLogger();
  const listener = createNodeWebhookListener({ secretFor: (id) => stack.secretFor(id), dedup: stack.store, bot: createExampleBot({ tokens: stack.manager, line: stack.line, logger: botLog }), logger: intakeLog });
  const server = await listen(listener);
  try {
    const malformed = [{ type: "message" }, { type: "message", message: null }, { type: "message", message: { id: "3" } }, { type: "message", message: "text" }];
    const d = await deliverTestWebhook(stack.emu.url, { channelId: ch.channelId, url: `${server.url}/webhook/${ch.channelId}`, events: [...malformed, text("hello")] });
    assert.equal(d.status, 200);
    await listener.drain();
    const lines = [...botLog.lines, ...intakeLog.lines];
    assert.deepEqual(lines.filter((l) => l.level === "error"), [], "no handler threw");
    const skipped = botLog.lines.filter((l) => l.message === "malformed webhook event skipped");
    assert.deepEqual(skipped.map((l) => l.fields["problem"]), [
      "the event has no message",
      "the event has a message that is not an object",
      "the event has a message without a string type",
      "the event has a message that is not an object",
    ]);
    assert.deepEqual(skipped.map((l) => l.fields["webhookEventId"]), d.webhookEventIds.slice(0, 4));
    assert.ok(skipped.every((l) => l.level === "warn" && l.fields["channelId"] === ch.channelId && l.fields["eventType"] === "message"));
    const log = await sentMessages(stack.emu.url, ch.channelId);
    assert.equal(log.length, 1, "the well-formed text message after them is still answered");
    assert.equal(log[0].replyToken, d.replyTokens[4]);
  } finally {
    await server.close();
  }
});

test("bot.dispatch given something that is not an event resolves, logging it as malformed when a handler waits for its type", async () => {
  const logger = memoryLogger();
  let calls = 0;
  const bot = createBot({ tokens: stack.manager, line: stack.line, logger }).on("postback", () => void calls++).on("message", () => void calls++);
  const info = { channelId: "1234567890", destination: "U" + "0".repeat(32) };
  for (const bad of [null, 42, "message", { type: "postback" }, { type: "postback", postback: { data: 1 } }, { type: "message", message: { type: "text" }, source: "user" }]) {
    await bot.dispatch(bad as never, info);
  }
  assert.equal(calls, 0);
  assert.deepEqual(logger.lines.map((l) => l.fields["problem"]), [
    "the event has no postback",
    "the event has a postback without a string data",
    "the event has a source that is not an object",
  ]);
  await bot.dispatch({ type: "postback", postback: { data: "a=1" } } as never, info);
  assert.equal(calls, 1);
});
