// The emulator's LINE WORKS bot API over HTTP: the send endpoints (201, recorded in the message
// log), their refusals in the {code, description} shape, the per-minute rate limit with
// rateLimit-* headers on the emulator clock, faults, and signed callbacks delivered on request.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { verifyWorksSignature } from "../../src/core/webhook/works-signature.ts";
import { emulatorJson, injectFault, startTestEmulator, type TestEmulator } from "../helpers/emulator.ts";
import { createWorksApp, createWorksBot, jwtBearerForm, postForm, signWorksAssertion, type TestWorksApp, type TestWorksBot } from "../helpers/works-emulator.ts";

let emu: TestEmulator;
let app: TestWorksApp;
let bot: TestWorksBot;
let token: string;
before(async () => {
  emu = await startTestEmulator();
  app = await createWorksApp(emu.url);
  bot = await createWorksBot(emu.url);
  token = (await postForm(emu.url, "/oauth2/v2.0/token", jwtBearerForm(app, signWorksAssertion(app), "bot user.read"))).body.access_token;
});
after(() => emu.close());

function send(path: string, body: unknown, bearer: string | null = token): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (bearer !== null) headers["authorization"] = `Bearer ${bearer}`;
  return fetch(emu.url + path, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
}

const hello = { content: { type: "text", text: "こんにちは!" } };

describe("bot send endpoints", () => {
  test("to a user and to a channel: 201, each recorded in the message log", async () => {
    await emulatorJson(emu.url, "DELETE", "/__emulator/works/messages");
    assert.equal((await send(`/v1.0/bots/${bot.botId}/users/user-1/messages`, hello)).status, 201);
    assert.equal((await send(`/v1.0/bots/${bot.botId}/channels/room-1/messages`, hello)).status, 201);
    const log = (await emulatorJson(emu.url, "GET", `/__emulator/works/messages?botId=${bot.botId}`)).body.messages;
    assert.deepEqual(log.map((m: { userId: string | null; channelId: string | null; content: unknown; clientId: string }) => [m.userId, m.channelId, m.content, m.clientId]), [
      ["user-1", null, hello.content, app.clientId],
      [null, "room-1", hello.content, app.clientId],
    ]);
  });

  test("refusals use {code, description}: no token, unknown token, no bot scope, unknown bot, bad content", async () => {
    const userRead = (await postForm(emu.url, "/oauth2/v2.0/token", jwtBearerForm(app, signWorksAssertion(app), "user.read"))).body.access_token;
    const cases: Array<[Promise<Response>, number, string]> = [
      [send(`/v1.0/bots/${bot.botId}/users/u/messages`, hello, null), 401, "UNAUTHORIZED"],
      [send(`/v1.0/bots/${bot.botId}/users/u/messages`, hello, "made-up"), 401, "UNAUTHORIZED"],
      [send(`/v1.0/bots/${bot.botId}/users/u/messages`, hello, userRead), 403, "FORBIDDEN"],
      [send("/v1.0/bots/999/users/u/messages", hello), 404, "NOT_FOUND"],
      [send(`/v1.0/bots/${bot.botId}/users/u/messages`, { content: { type: "text", text: "" } }), 400, "INVALID_PARAMETER"],
      [send(`/v1.0/bots/${bot.botId}/users/u/messages`, { content: "hi" }), 400, "INVALID_PARAMETER"],
      [send(`/v1.0/bots/${bot.botId}/users/u/messages`, "{not json"), 400, "INVALID_PARAMETER"],
    ];
    for (const [pending, status, code] of cases) {
      const res = await pending;
      assert.equal(res.status, status);
      const body = (await res.json()) as Record<string, unknown>;
      assert.deepEqual(Object.keys(body), ["code", "description"]);
      assert.equal(body["code"], code);
    }
    assert.equal((await fetch(`${emu.url}/v1.0/bots/${bot.botId}/users/u/messages`)).status, 405);
  });

  test("a bot's per-minute rate limit answers 429 TOO_MANY_REQUESTS with rateLimit-reset, and reopens on the emulator clock", async () => {
    const limited = await createWorksBot(emu.url, { rateLimitPerMinute: 2 });
    const path = `/v1.0/bots/${limited.botId}/users/u/messages`;
    const first = await send(path, hello);
    assert.equal(first.status, 201);
    assert.equal(first.headers.get("ratelimit-limit"), "2");
    assert.equal(first.headers.get("ratelimit-remaining"), "1");
    assert.equal((await send(path, hello)).status, 201);
    const refused = await send(path, hello);
    assert.equal(refused.status, 429);
    assert.equal(((await refused.json()) as { code: string }).code, "TOO_MANY_REQUESTS");
    const reset = Number(refused.headers.get("ratelimit-reset"));
    assert.ok(reset >= 1 && reset <= 60, String(reset));
    assert.equal(refused.headers.get("ratelimit-remaining"), "0");
    await emulatorJson(emu.url, "POST", "/__emulator/clock", { advanceSeconds: 60 });
    try {
      assert.equal((await send(path, hello)).status, 201);
    } finally {
      await emulatorJson(emu.url, "POST", "/__emulator/clock", { offsetSeconds: 0 });
    }
  });

  test("faults on the bot API answer in its shape; an HTTP-date retryAfter becomes Retry-After", async () => {
    const path = `/v1.0/bots/${bot.botId}/users/u/messages`;
    await injectFault(emu.url, { method: "POST", path: "/v1.0/bots/*", status: 503, retryAfter: "Wed, 21 Oct 2026 07:28:00 GMT", count: 1 });
    const res = await send(path, hello);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("retry-after"), "Wed, 21 Oct 2026 07:28:00 GMT");
    assert.equal(((await res.json()) as { code: string }).code, "SERVICE_UNAVAILABLE");
    assert.equal((await send(path, hello)).status, 201);
  });

  test("bad bot settings are refused", async () => {
    for (const body of [{ botId: "abc" }, { botSecret: "" }, { rateLimitPerMinute: 0 }, { colour: 1 }]) {
      assert.equal((await emulatorJson(emu.url, "POST", "/__emulator/works/bots", body)).status, 400, JSON.stringify(body));
    }
    assert.equal((await emulatorJson(emu.url, "POST", "/__emulator/works/bots", { botId: bot.botId })).status, 409);
  });
});

describe("signed callbacks", () => {
  let received: Array<{ headers: IncomingHttpHeaders; body: Buffer }> = [];
  let target: string;
  let close: () => void;
  before(async () => {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    target = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook/works/${bot.botId}`;
    close = () => server.close();
  });
  after(() => close());

  test("a callback is one event, signed with the bot secret over the exact bytes, with X-WORKS-BotId", async () => {
    received = [];
    await emulatorJson(emu.url, "POST", "/__emulator/clock", { offsetSeconds: 3600 });
    let r;
    try {
      r = await emulatorJson(emu.url, "POST", "/__emulator/works/callbacks", { botId: bot.botId, url: target, event: { source: { userId: "user-7", domainId: 1 } } });
    } finally {
      await emulatorJson(emu.url, "POST", "/__emulator/clock", { offsetSeconds: 0 });
    }
    assert.equal(r.status, 200);
    assert.deepEqual([r.body.delivered, r.body.status, r.body.responseBody], [true, 200, "ok"]);
    assert.equal(received.length, 1);
    const got = received[0]!;
    assert.equal(got.headers["x-works-botid"], bot.botId);
    assert.equal(got.headers["content-type"], "application/json; charset=UTF-8");
    assert.equal(got.headers["x-works-signature"], createHmac("sha256", bot.botSecret).update(got.body).digest("base64"));
    assert.equal(await verifyWorksSignature(bot.botSecret, new Uint8Array(got.body), got.headers["x-works-signature"] as string), true);
    assert.equal(await verifyWorksSignature("another-bot-secret", new Uint8Array(got.body), got.headers["x-works-signature"] as string), false);
    const event = JSON.parse(got.body.toString("utf8"));
    assert.equal(event.type, "message");
    assert.deepEqual(event.source, { userId: "user-7", domainId: 1 });
    assert.deepEqual(event.content, { type: "text", text: "hello" });
    const issued = Date.parse(event.issuedTime);
    assert.ok(issued - Date.now() > 3500_000, "issuedTime follows the emulator clock");
  });

  test("rawBody is signed and sent byte for byte; delivery failures and bad requests are reported", async () => {
    received = [];
    const r = await emulatorJson(emu.url, "POST", "/__emulator/works/callbacks", { botId: bot.botId, url: target, rawBody: "not json" });
    assert.equal(r.body.delivered, true);
    assert.equal(received[0]!.body.toString("utf8"), "not json");
    assert.equal(received[0]!.headers["x-works-signature"], createHmac("sha256", bot.botSecret).update("not json").digest("base64"));
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const down = await emulatorJson(emu.url, "POST", "/__emulator/works/callbacks", { botId: bot.botId, url: `http://127.0.0.1:${port}/x` });
    assert.equal(down.body.delivered, false);
    assert.match(down.body.error, /ECONNREFUSED/);
    assert.equal((await emulatorJson(emu.url, "POST", "/__emulator/works/callbacks", { botId: "nobody", url: target })).status, 404);
    assert.equal((await emulatorJson(emu.url, "POST", "/__emulator/works/callbacks", { botId: bot.botId, url: "ftp://x" })).status, 400);
    assert.equal((await emulatorJson(emu.url, "POST", "/__emulator/works/callbacks", { botId: bot.botId, url: target, event: {}, rawBody: "x" })).status, 400);
  });
});
