// LINE WORKS bot callbacks through each Node front end: the node:http listener's `works`, the
// Express handler's `works` (reading the stream, or a Buffer from express.raw) and the Fastify
// plugin's works route. Same answers and de-duplication as the web handler's (works-intake.test.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import express from "express";
import { createNodeWebhookListener } from "../../src/webhook/adapters/node.ts";
import { createExpressWebhookHandler } from "../../src/webhook/adapters/express.ts";
import { createFastifyWebhookPlugin } from "../../src/webhook/adapters/fastify.ts";
import { WebhookConfigError } from "../../src/webhook/errors.ts";
import type { DeliveryInfo, WebhookOptions } from "../../src/webhook/options.ts";
import { listen, listenFastify } from "./emulator-setup.ts";
import { memoryLogger } from "./fixtures.ts";

const BOT = "2000001";
const BOT_SECRET = "works-bot-secret-" + "x".repeat(16);
const CHANNEL_SECRET = "c".repeat(32);
const sign = (secret: string, text: string): string => createHmac("sha256", secret).update(text).digest("base64");

interface Running {
  url: string;
  drain(): Promise<void>;
  close(): Promise<void>;
}

const starters: Record<string, (options: WebhookOptions) => Promise<Running>> = {
  "node:http": async (options) => {
    const listener = createNodeWebhookListener(options);
    const s = await listen((req, res) => (req.url?.startsWith("/webhook/works/") ? listener.works(req, res) : listener(req, res)));
    return { url: s.url, drain: () => listener.drain(), close: s.close };
  },
  express: async (options) => {
    const app = express();
    const handler = createExpressWebhookHandler(options);
    app.post("/webhook/works/:botId", handler.works);
    app.post("/webhook/:channelId", handler);
    const s = await listen(app as never);
    return { url: s.url, drain: () => handler.drain(), close: s.close };
  },
  "express.raw": async (options) => {
    const app = express();
    const handler = createExpressWebhookHandler(options);
    app.post("/webhook/works/:botId", express.raw({ type: "*/*" }), handler.works);
    const s = await listen(app as never);
    return { url: s.url, drain: () => handler.drain(), close: s.close };
  },
  fastify: (options) => listenFastify(options),
};

for (const [name, start] of Object.entries(starters)) {
  test(`${name}: a signed LINE WORKS callback is handled once with platform line-works; LINE's header, a channel's secret and an unknown bot get 401`, async () => {
    const seen: Array<{ type: string; info: DeliveryInfo }> = [];
    const app = await start({
      secretFor: (id) => (id === BOT ? CHANNEL_SECRET : null),
      botSecretFor: (id) => (id === BOT ? BOT_SECRET : null),
      onEvent: (event, info) => void seen.push({ type: event.type, info }),
      logger: memoryLogger(),
    });
    try {
      const text = JSON.stringify({ type: "message", source: { userId: "u1" }, content: { type: "text", text: "こんにちは" } });
      const post = (headers: Record<string, string>, bot = BOT) =>
        fetch(`${app.url}/webhook/works/${bot}`, { method: "POST", body: text, headers: { "content-type": "application/json", ...headers } });
      assert.equal((await post({ "x-works-signature": sign(BOT_SECRET, text) })).status, 200);
      // A redelivery repeats the bytes: a duplicate.
      assert.equal((await post({ "x-works-signature": sign(BOT_SECRET, text) })).status, 200);
      await app.drain();
      assert.deepEqual(seen, [{ type: "message", info: { channelId: BOT, destination: BOT, platform: "line-works" } }]);
      const refused = await post({ "x-line-signature": sign(BOT_SECRET, text) });
      assert.equal(refused.status, 401);
      assert.match(await refused.text(), /X-WORKS-Signature/);
      assert.equal((await post({ "x-works-signature": sign(CHANNEL_SECRET, text) })).status, 401);
      assert.equal((await post({ "x-works-signature": sign(BOT_SECRET, text) }, "2000002")).status, 401);
      await app.drain();
      assert.equal(seen.length, 1);
    } finally {
      await app.close();
    }
  });
}

test("fastify: the works route is there only with botSecretFor, at worksPath when given; a path not starting with / is refused", async () => {
  const text = JSON.stringify({ type: "message", source: { userId: "u1" }, content: { type: "text", text: "hi" } });
  const headers = { "content-type": "application/json", "x-works-signature": sign(BOT_SECRET, text) };
  const without = await starters["fastify"]!({ channelSecret: CHANNEL_SECRET, onEvent: () => {}, logger: memoryLogger() });
  try {
    assert.equal((await fetch(`${without.url}/webhook/works/${BOT}`, { method: "POST", body: text, headers })).status, 404);
  } finally {
    await without.close();
  }
  const seen: string[] = [];
  const app = await listenFastify({ channelSecret: CHANNEL_SECRET, botSecretFor: () => BOT_SECRET, worksPath: "/works/:botId/callback", onEvent: (e) => void seen.push(e.type), logger: memoryLogger() });
  try {
    assert.equal((await fetch(`${app.url}/works/${BOT}/callback`, { method: "POST", body: text, headers })).status, 200);
    await app.drain();
    assert.deepEqual(seen, ["message"]);
  } finally {
    await app.close();
  }
  assert.throws(() => createFastifyWebhookPlugin({ channelSecret: CHANNEL_SECRET, worksPath: "works" } as never), WebhookConfigError);
});
