// LINE WORKS bot callbacks at POST /webhook/works/{botId} in kagiya serve, over HTTP against the
// emulator: the example bot answers こんにちは! through the bot API with the owning app's managed
// token; bad signature / another bot's secret / oversized / non-JSON are refused; a redelivered
// body is handled once (one instance, and two instances on Redis); a 403 UNAUTHORIZED from the
// bot API invalidates the token, one new token is minted and the message is sent.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { request, startTestBroker, type TestBroker } from "./helpers.ts";
import { emulatorJson, startTestEmulator, type TestEmulator } from "../helpers/emulator.ts";
import { createWorksApp, createWorksBot, registerWorksApp, worksAccessTokens, type TestWorksApp, type TestWorksBot } from "../helpers/works-emulator.ts";
import { RedisStore } from "../../src/store/redis/store.ts";
import { ChannelRegistry } from "../../src/store/registry.ts";
import { MasterKey, Sealer } from "../../src/store/sealed.ts";
import { startBroker, type RunningBroker } from "../../src/server/broker.ts";
import { randomNamespace, REDIS_URL, redisSkip } from "../store/services.ts";

interface WorksFixture {
  id: string;
  app: TestWorksApp;
  bot: TestWorksBot;
}

/** An app and its bot in the emulator, registered in kagiya as `kagiya works add --bot-id` does. */
async function addWorksApp(emuUrl: string, registry: ChannelRegistry, id: string, appSettings: Record<string, unknown> = {}): Promise<WorksFixture> {
  const app = await createWorksApp(emuUrl, appSettings);
  const bot = await createWorksBot(emuUrl);
  await registerWorksApp(registry as never, app, { id, settings: { botId: bot.botId }, secrets: { botSecret: bot.botSecret } });
  return { id, app, bot };
}

/** Has the emulator sign and deliver one callback for `botId` to `url`. */
async function deliver(emuUrl: string, botId: string, url: string, event: Record<string, unknown>): Promise<{ status: number | null; body: string; signature: string }> {
  const r = await emulatorJson(emuUrl, "POST", "/__emulator/works/callbacks", { botId, url, event });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

async function botMessages(emuUrl: string, botId: string): Promise<Array<{ userId: string | null; channelId: string | null; clientId: string; content: any }>> {
  return (await emulatorJson(emuUrl, "GET", `/__emulator/works/messages?botId=${encodeURIComponent(botId)}`)).body.messages;
}

const textFrom = (userId: string, text: string, extra: Record<string, unknown> = {}) => ({
  type: "message",
  source: { userId, domainId: 10000001 },
  issuedTime: new Date().toISOString(),
  content: { type: "text", text },
  ...extra,
});

describe("one broker", () => {
  let emu: TestEmulator;
  let t: TestBroker;
  let a: WorksFixture;
  let b: WorksFixture;
  let u: WorksFixture;
  const hook = (botId: string): string => `${t.url}/webhook/works/${botId}`;

  before(async () => {
    emu = await startTestEmulator();
    t = await startTestBroker({ emu, server: { worksAuthBase: emu.url, worksApiBase: emu.url } });
    a = await addWorksApp(emu.url, t.registry, "works-a");
    b = await addWorksApp(emu.url, t.registry, "works-b");
    u = await addWorksApp(emu.url, t.registry, "works-403", { unauthorizedStatus: 403 });
  });
  after(async () => {
    await t.close();
    await emu.close();
  });

  test("a signed callback is answered 200 and the example bot's こんにちは! is in the emulator's message log, sent with the app's token", async () => {
    const r = await deliver(emu.url, a.bot.botId, hook(a.bot.botId), textFrom("alice-works-user", "hello"));
    assert.equal(r.status, 200);
    await t.broker.drainWebhooks();
    const msgs = await botMessages(emu.url, a.bot.botId);
    assert.equal(msgs.length, 1);
    assert.deepEqual(msgs[0]!.content, { type: "text", text: "こんにちは!" });
    assert.equal(msgs[0]!.userId, "alice-works-user");
    assert.equal(msgs[0]!.clientId, a.app.clientId, "sent with the token of the app that owns the bot");
    // In a talk room the answer goes to the room.
    await deliver(emu.url, a.bot.botId, hook(a.bot.botId), textFrom("bob-works-user", "hi", { source: { userId: "bob-works-user", channelId: "room-1", domainId: 1 } }));
    await t.broker.drainWebhooks();
    const room = (await botMessages(emu.url, a.bot.botId)).filter((m) => m.channelId === "room-1");
    assert.equal(room.length, 1);
    assert.equal(room[0]!.userId, null);
  });

  test("bad signature, missing signature, another bot's secret → 401; over 1 MiB → 413; signed non-JSON or a JSON array → 400; nothing sent", async () => {
    const before = (await botMessages(emu.url, a.bot.botId)).length;
    const body = JSON.stringify(textFrom("mallory", "x"));
    const sign = (secret: string, text: string | Buffer): string => createHmac("sha256", secret).update(text).digest("base64");
    const post = (url: string, text: string | Buffer, headers: Record<string, string>) =>
      request(url, { method: "POST", body: text, headers: { "content-type": "application/json", ...headers } });
    const good = sign(a.bot.botSecret, body);
    const cases: Array<[string, Record<string, string>, number, string]> = [
      [hook(a.bot.botId), { "x-works-signature": "AAAA" + good.slice(4) }, 401, "ERR_WEBHOOK_SIGNATURE"],
      [hook(a.bot.botId), {}, 401, "ERR_WEBHOOK_SIGNATURE"],
      // LINE's header is not LINE WORKS' header.
      [hook(a.bot.botId), { "x-line-signature": good }, 401, "ERR_WEBHOOK_SIGNATURE"],
      // Signed for bot B, posted to bot A; and A's body to B.
      [hook(a.bot.botId), { "x-works-signature": sign(b.bot.botSecret, body) }, 401, "ERR_WEBHOOK_SIGNATURE"],
      [hook(b.bot.botId), { "x-works-signature": good }, 401, "ERR_WEBHOOK_SIGNATURE"],
      // An unregistered bot looks the same as a bad signature.
      [hook("9999999"), { "x-works-signature": good }, 401, "ERR_WEBHOOK_SIGNATURE"],
    ];
    for (const [url, headers, status, code] of cases) {
      const r = await post(url, body, headers);
      assert.equal(r.status, status, `${url} ${JSON.stringify(Object.keys(headers))}`);
      assert.equal(r.body.error, code);
    }
    const big = Buffer.alloc(1024 * 1024 + 1, 0x20);
    const tooLarge = await post(hook(a.bot.botId), big, { "x-works-signature": sign(a.bot.botSecret, big) });
    assert.equal(tooLarge.status, 413);
    for (const text of ["not json", "[1,2]"]) {
      const r = await post(hook(a.bot.botId), text, { "x-works-signature": sign(a.bot.botSecret, text) });
      assert.equal(r.status, 400, text);
    }
    await t.broker.drainWebhooks();
    assert.equal((await botMessages(emu.url, a.bot.botId)).length, before);
    // Refusals are audited naming the bot, never the signature or the secret.
    const audit = (await t.store.listAudit({ limit: 200 })).filter((row) => row.action === "webhook.reject" && row.detail?.includes(`LINE WORKS bot ${a.bot.botId}`));
    assert.ok(audit.length > 0);
    const dump = JSON.stringify(audit);
    assert.ok(!dump.includes(good) && !dump.includes(a.bot.botSecret));
  });

  test("a malformed event is logged as such and reaches no handler; the request is still 200", async () => {
    const before = (await botMessages(emu.url, a.bot.botId)).length;
    const r = await deliver(emu.url, a.bot.botId, hook(a.bot.botId), { type: "message", source: { userId: "u" }, content: "not an object" });
    assert.equal(r.status, 200);
    await t.broker.drainWebhooks();
    assert.equal((await botMessages(emu.url, a.bot.botId)).length, before);
    assert.ok(t.logs.some((l) => l.includes("malformed LINE WORKS event skipped") && l.includes("has no content object")));
  });

  test("the same callback delivered 50 times is handled once: one message", async () => {
    const r = await deliver(emu.url, a.bot.botId, hook(a.bot.botId), textFrom("carol-works-user", "once"));
    const replays = await Promise.all(Array.from({ length: 50 }, () =>
      request(hook(a.bot.botId), { method: "POST", body: r.body, headers: { "content-type": "application/json", "x-works-signature": r.signature } })));
    for (const x of replays) assert.equal(x.status, 200);
    await t.broker.drainWebhooks();
    assert.equal((await botMessages(emu.url, a.bot.botId)).filter((m) => m.userId === "carol-works-user").length, 1);
  });

  test("a 403 {code: UNAUTHORIZED} from the bot API invalidates the token: one new token is minted and the message is sent", async () => {
    // A token kagiya holds, then revoked behind its back.
    await t.broker.manager.get(u.id);
    const [held] = await worksAccessTokens(emu.url, u.app.clientId);
    assert.ok(held);
    const revoked = await fetch(`${emu.url}/oauth2/v2.0/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: u.app.clientId, client_secret: u.app.clientSecret, token: held.token }),
    });
    assert.equal(revoked.status, 200);
    const r = await deliver(emu.url, u.bot.botId, hook(u.bot.botId), textFrom("dave-works-user", "hello"));
    assert.equal(r.status, 200);
    await t.broker.drainWebhooks();
    const msgs = await botMessages(emu.url, u.bot.botId);
    assert.equal(msgs.length, 1);
    assert.equal(msgs[0]!.content.text, "こんにちは!");
    const ledger = await worksAccessTokens(emu.url, u.app.clientId);
    assert.equal(ledger.length, 2, "exactly one re-mint");
    assert.ok(t.logs.some((l) => l.includes("LINE WORKS refused the access token") && l.includes(u.id)));
    assert.ok(!t.logs.some((l) => l.includes(held.token)), "the token is never logged");
  });
});

describe("two brokers on one Redis store", async () => {
  const skip = await redisSkip();
  let emu: TestEmulator;
  let t: TestBroker;
  let other: RunningBroker;
  let otherStore: RedisStore;
  let a: WorksFixture;
  const prefix = `${randomNamespace("worksbots")}:`;

  before(async () => {
    if (skip) return;
    emu = await startTestEmulator();
    t = await startTestBroker({ emu, store: await RedisStore.connect({ url: REDIS_URL, prefix }), server: { worksAuthBase: emu.url, worksApiBase: emu.url } });
    a = await addWorksApp(emu.url, t.registry, "works-shared");
    otherStore = await RedisStore.connect({ url: REDIS_URL, prefix });
    const registry = await ChannelRegistry.open(otherStore, new Sealer(MasterKey.parse(t.masterKey)));
    other = await startBroker({ registry, lineApiBase: emu.url, worksAuthBase: emu.url, worksApiBase: emu.url, scheduler: false, log: { level: "silent" } });
  });
  after(async () => {
    if (skip) return;
    await other.close();
    await otherStore.destroy();
    await otherStore.close().catch(() => undefined);
    await t.close();
    await emu.close();
  });

  test("one callback delivered to both instances, ten times each, is handled once across them", { skip }, async () => {
    const r = await deliver(emu.url, a.bot.botId, `${t.url}/webhook/works/${a.bot.botId}`, textFrom("erin-works-user", "shared"));
    assert.equal(r.status, 200);
    const headers = { "content-type": "application/json", "x-works-signature": r.signature };
    const replays = await Promise.all([t.url, other.url].flatMap((base) =>
      Array.from({ length: 10 }, () => request(`${base}/webhook/works/${a.bot.botId}`, { method: "POST", body: r.body, headers }))));
    for (const x of replays) assert.equal(x.status, 200);
    await Promise.all([t.broker.drainWebhooks(), other.drainWebhooks()]);
    const msgs = (await botMessages(emu.url, a.bot.botId)).filter((m) => m.userId === "erin-works-user");
    assert.equal(msgs.length, 1);
  });
});
