// The LINE WORKS client and its token port against the emulator over HTTP: the JWT bearer grant
// as sent on the wire, expires_in as a string (and every other form refused), refresh with
// rotation on and off, revoke, bot messages, and the clock-skew re-send.
import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { classifyWorksFailure, WorksApiError, WorksBadResponseError, worksTokenApi, type WorksApp } from "../../../src/clients/works/index.ts";
import { inspectJws } from "../../../src/core/jwt/inspect.ts";
import { emulatorJson, testKeyPair } from "../../helpers/emulator.ts";
import { createWorksBot } from "../../helpers/works-emulator.ts";
import { importVerifyKey } from "../../../src/core/keys/import.ts";
import { failure, worksFixture, type WorksFixture } from "./fixture.ts";

let fx: WorksFixture;
before(async () => {
  fx = await worksFixture();
});
after(() => fx.close());
afterEach(async () => {
  fx.proxy.rewrite = undefined;
  fx.proxy.requests.length = 0;
  await emulatorJson(fx.emu.url, "POST", "/__emulator/clock", { offsetSeconds: 0 });
});

function port(): ReturnType<typeof worksTokenApi> {
  return worksTokenApi({ authBaseUrl: fx.proxy.url, apiBaseUrl: fx.proxy.url });
}

describe("JWT bearer grant", () => {
  test("sends assertion, grant_type, client_id, client_secret and space-separated scope; the assertion meets LINE WORKS' rules", async () => {
    const { app, privateKey } = await fx.newApp();
    const { works } = fx.client();
    const t = await works.issueToken({ ...app, privateKey });
    assert.equal(t.expires_in, 86400, "the string \"86400\" became a number");
    assert.deepEqual(t.scope, ["bot", "user.read"]);
    assert.equal(t.token_type, "Bearer");
    assert.equal(typeof t.refresh_token, "string");
    const sent = fx.proxy.requests.at(-1)!;
    assert.equal(sent.url, "/oauth2/v2.0/token");
    assert.equal(sent.headers["content-type"], "application/x-www-form-urlencoded");
    const form = new URLSearchParams(sent.body);
    assert.deepEqual([...form.keys()], ["assertion", "grant_type", "client_id", "client_secret", "scope"]);
    assert.equal(form.get("grant_type"), "urn:ietf:params:oauth:grant-type:jwt-bearer");
    assert.equal(form.get("scope"), "bot user.read");
    const inspected = await inspectJws(form.get("assertion")!, { rules: "works", key: await importVerifyKey((await testKeyPair()).publicJwk) });
    assert.deepEqual(inspected.findings, []);
    assert.equal(inspected.signature, "valid");
  });

  test("a 1 h app's expires_in \"3600\" is read as 3600 through the port", async () => {
    const { app } = await fx.newApp({ tokenLifetime: 3600 });
    const t = await port().issue(app);
    assert.equal(t.expiresIn, 3600);
    assert.equal(typeof t.refreshToken, "string");
    assert.deepEqual(t.scope, ["bot", "user.read"]);
  });

  test("expires_in as a JSON number is taken; anything that is not a whole number of seconds is refused and nothing is returned", async () => {
    const { app } = await fx.newApp();
    const rewriteExpires = (value: unknown) => {
      fx.proxy.rewrite = (_req, res) => {
        const body = JSON.parse(res.body);
        if (value === undefined) delete body.expires_in;
        else body.expires_in = value;
        return { ...res, body: JSON.stringify(body) };
      };
    };
    rewriteExpires(86400);
    assert.equal((await port().issue(app)).expiresIn, 86400);
    rewriteExpires(" 86400 ");
    assert.equal((await port().issue(app)).expiresIn, 86400);
    for (const value of ["86400.5", "1e5", "abc", "", "0", "-5", null, true, undefined, 1.5, [86400]]) {
      rewriteExpires(value);
      const e = await failure(port().issue(app));
      assert.ok(e instanceof WorksBadResponseError, String(value));
      assert.equal(e.field, "expires_in");
      assert.equal(e.code, "ERR_WORKS_BAD_RESPONSE");
      assert.equal(e.ambiguous, true);
      assert.equal(classifyWorksFailure(e).kind, "ambiguous");
    }
  });

  test("other unusable 200s are refused naming the field: HTML, no access_token, another token_type", async () => {
    const { app } = await fx.newApp();
    const cases: Array<[(body: Record<string, unknown>) => string, string]> = [
      [() => "<html>maintenance</html>", "body"],
      [(b) => JSON.stringify({ ...b, access_token: undefined }), "access_token"],
      [(b) => JSON.stringify({ ...b, token_type: "MAC" }), "token_type"],
      [(b) => JSON.stringify({ ...b, refresh_token: 5 }), "refresh_token"],
    ];
    for (const [rewrite, field] of cases) {
      fx.proxy.rewrite = (_req, res) => ({ ...res, body: rewrite(JSON.parse(res.body)) });
      const e = await failure(port().issue(app));
      assert.ok(e instanceof WorksBadResponseError);
      assert.equal(e.field, field);
    }
  });
});

describe("refresh-token grant", () => {
  test("rotation off: the answer has no refresh token, the port says so, and the old one keeps working", async () => {
    const { app } = await fx.newApp();
    const api = port();
    const first = await api.issue(app);
    const second = await api.refresh(app, first.refreshToken!);
    assert.equal(second.refreshToken, undefined);
    assert.equal(second.expiresIn, 86400);
    assert.notEqual(second.accessToken, first.accessToken);
    assert.deepEqual(second.scope, ["bot", "user.read"]);
    assert.equal(typeof (await api.refresh(app, first.refreshToken!)).accessToken, "string");
    const form = new URLSearchParams(fx.proxy.requests.at(-1)!.body);
    assert.deepEqual([...form.keys()], ["grant_type", "refresh_token", "client_id", "client_secret"]);
  });

  test("rotation on: a new refresh token each time; the spent one is a classified invalid_grant", async () => {
    const { app } = await fx.newApp({ rotation: true });
    const api = port();
    const first = await api.issue(app);
    const second = await api.refresh(app, first.refreshToken!);
    assert.equal(typeof second.refreshToken, "string");
    assert.notEqual(second.refreshToken, first.refreshToken);
    const e = await failure(api.refresh(app, first.refreshToken!));
    assert.ok(e instanceof WorksApiError);
    assert.equal(e.code, "ERR_WORKS_INVALID_GRANT");
    assert.equal(e.error, "invalid_grant");
    assert.equal(e.status, 400);
    assert.deepEqual(classifyWorksFailure(e), { code: "ERR_WORKS_INVALID_GRANT", message: e.message, kind: "rejected", ambiguous: false, retryAfterMs: null, invalidGrant: true, unauthorized: false });
    assert.ok(!e.message.includes(first.refreshToken!));
    assert.equal(typeof (await api.refresh(app, second.refreshToken!)).refreshToken, "string");
  });
});

describe("revoke and bot messages", () => {
  test("a revoked access token is refused by the bot API as ERR_WORKS_UNAUTHORIZED (401)", async () => {
    const { app } = await fx.newApp();
    const bot = await createWorksBot(fx.emu.url);
    const { works } = fx.client();
    const api = port();
    const t = await api.issue(app);
    await works.sendBotMessage(t.accessToken, { botId: bot.botId, userId: "user-1", content: { type: "text", text: "こんにちは!" } });
    await works.sendBotMessage(t.accessToken, { botId: bot.botId, channelId: "room-1", content: { type: "text", text: "やあ" } });
    const log = (await emulatorJson(fx.emu.url, "GET", `/__emulator/works/messages?botId=${bot.botId}`)).body.messages;
    assert.deepEqual(log.map((m: { userId: string | null; channelId: string | null; content: { text: string } }) => [m.userId, m.channelId, m.content.text]), [["user-1", null, "こんにちは!"], [null, "room-1", "やあ"]]);
    await api.revoke(app, t.accessToken);
    const e = await failure(works.sendBotMessage(t.accessToken, { botId: bot.botId, userId: "user-1", content: { type: "text", text: "x" } }));
    assert.ok(e instanceof WorksApiError);
    assert.deepEqual([e.code, e.status, e.apiCode], ["ERR_WORKS_UNAUTHORIZED", 401, "UNAUTHORIZED"]);
    assert.equal(classifyWorksFailure(e).unauthorized, true);
    await api.revoke(app, t.refreshToken!);
    assert.equal(classifyWorksFailure(await failure(api.refresh(app, t.refreshToken!))).invalidGrant, true);
  });

  test("a 403 {code: UNAUTHORIZED} for an expired token is ERR_WORKS_UNAUTHORIZED too", async () => {
    const { app } = await fx.newApp({ tokenLifetime: 3600, unauthorizedStatus: 403 });
    const bot = await createWorksBot(fx.emu.url);
    const t = await port().issue(app);
    await emulatorJson(fx.emu.url, "POST", "/__emulator/clock", { advanceSeconds: 3600 });
    const e = await failure(fx.client().works.sendBotMessage(t.accessToken, { botId: bot.botId, userId: "u", content: { type: "text", text: "x" } }));
    assert.ok(e instanceof WorksApiError);
    assert.deepEqual([e.code, e.status, e.apiCode, typeof e.apiDescription], ["ERR_WORKS_UNAUTHORIZED", 403, "UNAUTHORIZED", "string"]);
    const forbidden = await fx.newApp({ scopes: ["user.read"] });
    const noBot = await port().issue({ ...forbidden.app, scope: "user.read" });
    const f = await failure(fx.client().works.sendBotMessage(noBot.accessToken, { botId: bot.botId, userId: "u", content: { type: "text", text: "x" } }));
    assert.deepEqual([(f as WorksApiError).code, (f as WorksApiError).apiCode], ["ERR_WORKS_API", "FORBIDDEN"]);
  });
});

describe("clock skew", () => {
  test("an emulator two hours ahead: the expired-assertion refusal is re-sent once, built on the server's Date", async () => {
    const { app, privateKey } = await fx.newApp();
    await emulatorJson(fx.emu.url, "POST", "/__emulator/clock", { offsetSeconds: 7200 });
    const { works, attempts } = fx.client({ retry: { maxAttempts: 1 } });
    const t = await works.issueToken({ ...app, privateKey });
    assert.equal(t.expires_in, 86400);
    assert.deepEqual(attempts.map((a) => [a.status, a.errorCode]), [[400, "ERR_WORKS_INVALID_GRANT"], [200, undefined]]);
    assert.ok(Math.abs(works.clock.offsetMs - 7_200_000) < 3000);
  });
});

describe("ports keep keys per app", () => {
  test("a port imports an app's key once and refuses a key that is not one, sending nothing", async () => {
    const { app } = await fx.newApp();
    const api = port();
    await api.issue(app);
    const sent = fx.proxy.requests.length;
    const broken: WorksApp = { ...app, privateKey: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----" };
    const e = await failure(api.issue(broken));
    assert.match((e as { code: string }).code, /^ERR_KEY/);
    assert.equal(classifyWorksFailure(e).kind, "rejected");
    assert.equal(fx.proxy.requests.length, sent);
  });
});
