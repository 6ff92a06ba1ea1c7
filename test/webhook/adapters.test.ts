// Each adapter end to end over a real port: node:http, Express, Fastify. Deliveries come from
// the emulator (signed by it); refusals are sent with fetch and raw node:http requests.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import express from "express";
import { createNodeWebhookListener } from "../../src/webhook/adapters/node.ts";
import { createExpressWebhookHandler } from "../../src/webhook/adapters/express.ts";
import { createFastifyWebhookPlugin } from "../../src/webhook/adapters/fastify.ts";
import { signWebhookBody } from "../../src/core/webhook/signature.ts";
import type { WebhookOptions } from "../../src/webhook/intake.ts";
import type { WebhookEvent } from "../../src/webhook/types.ts";
import { deliverTestWebhook } from "../helpers/emulator.ts";
import { listen, listenFastify, startStack, type Stack } from "./emulator-setup.ts";
import { memoryLogger } from "./fixtures.ts";

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(() => stack.close());

interface Running {
  url: string;
  drain(): Promise<void>;
  close(): Promise<void>;
}

type Starter = (options: WebhookOptions) => Promise<Running>;

const adapters: Record<string, Starter> = {
  "node:http": async (options) => {
    const listener = createNodeWebhookListener(options);
    const s = await listen(listener);
    return { url: s.url, drain: () => listener.drain(), close: s.close };
  },
  express: async (options) => {
    const app = express();
    const handler = createExpressWebhookHandler(options);
    app.post("/webhook/:channelId", handler);
    app.use(express.json());
    app.post("/other", (req, res) => void res.json({ parsed: req.body }));
    const s = await listen(app as never);
    return { url: s.url, drain: () => handler.drain(), close: s.close };
  },
  fastify: (options) => listenFastify(options, (app) => void app.post("/other", async (req) => ({ parsed: req.body }))),
};

/** A raw node:http POST, so header-name case and framing are exactly what we send. */
function rawPost(url: string, headers: Record<string, string>, body: Uint8Array | string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: "POST", headers }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d)).on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

for (const [name, start] of Object.entries(adapters)) {
  describe(`${name} adapter`, () => {
    test("an emulator delivery is answered 200 and its events reach the handler", async () => {
      const ch = await stack.channel();
      const seen: WebhookEvent[] = [];
      const app = await start({ secretFor: (id) => stack.secretFor(id), onEvent: (e) => void seen.push(e), logger: memoryLogger() });
      try {
        const d = await deliverTestWebhook(stack.emu.url, { channelId: ch.channelId, url: `${app.url}/webhook/${ch.channelId}`, events: [{ type: "message", message: { type: "text", id: "1", text: "hi" } }, { type: "follow" }] });
        assert.equal(d.status, 200);
        const empty = await deliverTestWebhook(stack.emu.url, { channelId: ch.channelId, url: `${app.url}/webhook/${ch.channelId}`, events: [] });
        assert.equal(empty.status, 200, "connectivity check");
        await app.drain();
        assert.deepEqual(seen.map((e) => e.type), ["message", "follow"]);
        assert.deepEqual(seen.map((e) => e.webhookEventId), d.webhookEventIds);
      } finally {
        await app.close();
      }
    });

    test("answers 200 while the handler is still blocked, then the handler runs", async () => {
      const ch = await stack.channel();
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const finished: string[] = [];
      const app = await start({ secretFor: (id) => stack.secretFor(id), onEvent: async (e) => { await gate; finished.push(e.type); }, logger: memoryLogger() });
      try {
        const d = await deliverTestWebhook(stack.emu.url, { channelId: ch.channelId, url: `${app.url}/webhook/${ch.channelId}`, events: [{ type: "join" }] });
        assert.equal(d.status, 200);
        assert.deepEqual(finished, []);
        release();
        await app.drain();
        assert.deepEqual(finished, ["join"]);
      } finally {
        release();
        await app.close();
      }
    });

    test("401 for a missing or wrong signature and for another channel's secret; 400 signed non-JSON; 413 over 1 MiB", async () => {
      const a = await stack.channel();
      const b = await stack.channel();
      const rejects: number[] = [];
      const app = await start({ secretFor: (id) => stack.secretFor(id), onEvent: () => {}, onReject: (r) => void rejects.push(r.status), logger: memoryLogger() });
      try {
        const urlA = `${app.url}/webhook/${a.channelId}`;
        const body = JSON.stringify({ destination: "U" + "0".repeat(32), events: [] });
        const good = await signWebhookBody(a.channelSecret, body);
        const ct = { "content-type": "application/json" };
        const none = await rawPost(urlA, ct, body);
        assert.equal(none.status, 401);
        assert.equal(JSON.parse(none.body).error, "ERR_WEBHOOK_SIGNATURE");
        assert.equal((await rawPost(urlA, { ...ct, "X-Line-Signature": good.replace(/^./, good[0] === "A" ? "B" : "A") }, body)).status, 401);
        assert.equal((await rawPost(`${app.url}/webhook/${b.channelId}`, { ...ct, "x-line-signature": good }, body)).status, 401, "A's signature at B's URL");
        assert.equal((await rawPost(`${app.url}/webhook/9999999999`, { ...ct, "x-line-signature": good }, body)).status, 401, "unknown channel");
        assert.equal((await rawPost(urlA, { ...ct, "X-LINE-SIGNATURE": good }, body)).status, 200, "header name in capitals");
        assert.equal((await rawPost(urlA, { "x-line-signature": good }, body)).status, 200, "no content type");
        const junk = "this is not json";
        const r400 = await rawPost(urlA, { ...ct, "x-line-signature": await signWebhookBody(a.channelSecret, junk) }, junk);
        assert.equal(r400.status, 400);
        assert.equal(JSON.parse(r400.body).error, "ERR_WEBHOOK_INVALID_JSON");
        const big = JSON.stringify({ events: [], pad: "x".repeat(1024 * 1024) });
        const r413 = await fetch(urlA, { method: "POST", headers: { ...ct, "x-line-signature": await signWebhookBody(a.channelSecret, big) }, body: big });
        assert.equal(r413.status, 413);
        assert.equal(((await r413.json()) as { error: string }).error, "ERR_WEBHOOK_BODY_TOO_LARGE");
        assert.ok(rejects.includes(401) && rejects.includes(400) && rejects.includes(413), JSON.stringify(rejects));
      } finally {
        await app.close();
      }
    });
  });
}

test("node:http adapter counts a chunked body without Content-Length and answers 413", async () => {
  const ch = await stack.channel();
  const app = await adapters["node:http"]!({ secretFor: (id) => stack.secretFor(id), onEvent: () => {}, logger: memoryLogger() });
  try {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${app.url}/webhook/${ch.channelId}`, { method: "POST", headers: { "x-line-signature": "A".repeat(43) + "=", "transfer-encoding": "chunked" } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < 20) {
          sent++;
          if (!req.write(chunk)) return void req.once("drain", pump);
        }
        req.end();
      };
      pump();
    });
    assert.equal(status, 413);
  } finally {
    await app.close();
  }
});

test("express: a body parser mounted before the webhook route is reported as ERR_WEBHOOK_BODY_CONSUMED; express.raw works", async () => {
  const ch = await stack.channel();
  const codes: string[] = [];
  const app = express();
  app.use("/parsed", express.json());
  app.post("/parsed/webhook/:channelId", createExpressWebhookHandler({ secretFor: (id) => stack.secretFor(id), onEvent: () => {}, logger: memoryLogger() }));
  const seen: string[] = [];
  app.post("/raw/webhook/:channelId", express.raw({ type: "*/*", limit: "2mb" }), createExpressWebhookHandler({ secretFor: (id) => stack.secretFor(id), onEvent: (e) => void seen.push(e.type), logger: memoryLogger() }));
  app.use((err: { code?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    codes.push(err.code ?? "?");
    res.status(500).json({ error: err.code });
  });
  const s = await listen(app as never);
  try {
    const parsed = await deliverTestWebhook(stack.emu.url, { channelId: ch.channelId, url: `${s.url}/parsed/webhook/${ch.channelId}`, events: [{ type: "follow" }] });
    assert.equal(parsed.status, 500);
    assert.deepEqual(codes, ["ERR_WEBHOOK_BODY_CONSUMED"]);
    const raw = await deliverTestWebhook(stack.emu.url, { channelId: ch.channelId, url: `${s.url}/raw/webhook/${ch.channelId}`, events: [{ type: "follow" }] });
    assert.equal(raw.status, 200);
  } finally {
    await s.close();
  }
});

test("fastify: the raw-body parser stays inside the plugin; other routes still parse JSON", async () => {
  const app = await adapters["fastify"]!({ secretFor: (id) => stack.secretFor(id), onEvent: () => {}, logger: memoryLogger() });
  try {
    const res = await fetch(`${app.url}/other`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"a":1}' });
    assert.deepEqual(await res.json(), { parsed: { a: 1 } });
  } finally {
    await app.close();
  }
});

test("bodyTimeoutMs: the node:http and Express adapters take it (a positive integer); Fastify and the Request handler refuse it", async () => {
  const { createWebhookHandler } = await import("../../src/webhook/handler.ts");
  const { WebhookConfigError } = await import("../../src/webhook/errors.ts");
  assert.doesNotThrow(() => createNodeWebhookListener({ channelSecret: "s", bodyTimeoutMs: 500 }));
  assert.doesNotThrow(() => createExpressWebhookHandler({ channelSecret: "s", bodyTimeoutMs: 500 }));
  for (const bad of [0, -1, 1.5]) {
    assert.throws(() => createNodeWebhookListener({ channelSecret: "s", bodyTimeoutMs: bad }), WebhookConfigError);
    assert.throws(() => createExpressWebhookHandler({ channelSecret: "s", bodyTimeoutMs: bad }), WebhookConfigError);
  }
  assert.throws(() => createFastifyWebhookPlugin({ channelSecret: "s", bodyTimeoutMs: 500 } as never), /Fastify use its own requestTimeout/);
  assert.throws(() => createWebhookHandler({ channelSecret: "s", bodyTimeoutMs: 500 } as never), /host that builds the Request/);
});

test("node:http adapter: of bodies being read at once, the late ones get 408 and the one that finished its 200, whichever was first", async () => {
  const secret = "s".repeat(32);
  const listener = createNodeWebhookListener({ channelSecret: secret, onEvent: () => {}, bodyTimeoutMs: 150, logger: memoryLogger() });
  const s = await listen(listener);
  const { port } = new URL(s.url);
  const body = JSON.stringify({ destination: "U0", events: [] });
  const signature = await signWebhookBody(secret, new TextEncoder().encode(body));
  /** Sends the headers and half the body; `finish` sends the rest; resolves with the status line. */
  const start = () => {
    const socket = connect(Number(port), "127.0.0.1");
    let text = "";
    const answer = new Promise<string>((resolve) => {
      socket.setEncoding("utf8").on("data", (d: string) => (text += d));
      socket.on("close", () => resolve(text.split("\r\n")[0]!));
      socket.on("error", () => resolve(text.split("\r\n")[0] ?? ""));
    });
    socket.write(`POST /webhook HTTP/1.1\r\nhost: x\r\nx-line-signature: ${signature}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body.slice(0, 10)}`);
    return { answer, finish: () => socket.write(body.slice(10)) };
  };
  try {
    // Three bodies in flight: the middle one finishes, the first and the last are late.
    const [a, b, c] = [start(), start(), start()];
    await new Promise((r) => setTimeout(r, 20));
    b.finish();
    assert.match(await b.answer, / 200 /);
    assert.match(await a.answer, / 408 /);
    assert.match(await c.answer, / 408 /);
    // And again once the list is empty: a new late body is still swept.
    assert.match(await start().answer, / 408 /);
  } finally {
    await s.close();
  }
});
