// The LINE WORKS client's failures: both error shapes, 429 with rateLimit-reset (seconds or an
// epoch time) or Retry-After, retries by policy (assertion grant and revoke retried; refresh and
// messages not once they may have arrived), classification for the engine, secrets kept out of
// every error, and bad input refused before anything is sent.
import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import {
  classifyWorksFailure, createWorksClient, resolveWorksConfig, WORKS_ERROR_CODES, WorksApiError, WorksError, worksRetryAfterMs, worksTokenApi,
} from "../../../src/clients/works/index.ts";
import { InvalidInputError, KagiyaError } from "../../../src/core/errors.ts";
import { clearFaults, injectFault } from "../../helpers/emulator.ts";
import { createWorksBot } from "../../helpers/works-emulator.ts";
import { failure, worksFixture, type WorksFixture } from "./fixture.ts";

let fx: WorksFixture;
before(async () => {
  fx = await worksFixture();
});
after(() => fx.close());
afterEach(async () => {
  fx.proxy.rewrite = undefined;
  await clearFaults(fx.emu.url);
});

describe("error shapes", () => {
  test("RFC 6749 bodies become typed codes with error and error_description", async () => {
    const { app, privateKey } = await fx.newApp();
    const { works } = fx.client();
    const cases: Array<[Parameters<typeof works.issueToken>[0], string, string, number]> = [
      [{ ...app, privateKey, clientSecret: "wrong-secret" }, "ERR_WORKS_INVALID_CLIENT", "invalid_client", 401],
      [{ ...app, privateKey, serviceAccount: "other.serviceaccount@example.com" }, "ERR_WORKS_INVALID_GRANT", "invalid_grant", 400],
      [{ ...app, privateKey, scope: "bot calendar" }, "ERR_WORKS_INVALID_SCOPE", "invalid_scope", 400],
    ];
    for (const [creds, code, error, status] of cases) {
      const e = await failure(works.issueToken(creds));
      assert.ok(e instanceof WorksApiError);
      assert.deepEqual([e.code, e.error, e.status, e.delivery, e.attempts], [code, error, status, "answered", 1]);
      assert.equal(typeof e.errorDescription, "string");
      assert.match(e.message, new RegExp(`^LINE WORKS answered ${status} to POST /oauth2/v2.0/token: ${error}: `));
    }
  });

  test("the API's {code, description} body is read into apiCode and apiDescription", async () => {
    const { app } = await fx.newApp();
    const t = await worksTokenApi({ authBaseUrl: fx.proxy.url }).issue(app);
    const e = await failure(fx.client().works.sendBotMessage(t.accessToken, { botId: "999", userId: "u", content: { type: "text", text: "x" } }));
    assert.ok(e instanceof WorksApiError);
    assert.deepEqual([e.code, e.status, e.apiCode, e.apiDescription, e.error], ["ERR_WORKS_API", 404, "NOT_FOUND", "Bot 999 not found", undefined]);
  });

  test("texts echoed back are redacted: no secret, token or assertion in any error", async () => {
    const { app, privateKey } = await fx.newApp();
    let assertion = "";
    fx.proxy.rewrite = (req, res) => {
      const form = new URLSearchParams(req.body);
      assertion = form.get("assertion") ?? assertion;
      const echo = `${form.get("client_secret")} ${form.get("assertion") ?? ""} ${form.get("refresh_token") ?? ""}`;
      return { ...res, status: 400, body: JSON.stringify({ error: "invalid_request", error_description: `bad: ${echo}`, code: "X", description: echo }) };
    };
    const { works } = fx.client();
    const errors = [
      await failure(works.issueToken({ ...app, privateKey })),
      await failure(works.refreshToken(app, "kr1BBBBsecret-refresh-token")),
      await failure(works.revokeToken(app, "kr1AAAAsecret-access-token")),
    ];
    for (const e of errors) {
      assert.ok(e instanceof WorksApiError);
      const all = `${e.message} ${JSON.stringify(e)} ${e.stack}`;
      for (const secret of [app.clientSecret, assertion, "kr1BBBBsecret-refresh-token", "kr1AAAAsecret-access-token"]) assert.ok(!all.includes(secret), `${e.endpoint} leaked a secret`);
      assert.match(e.errorDescription!, /\[redacted\]/);
    }
  });
});

describe("rate limits", () => {
  test("429 with rateLimit-reset: slept through by the client, reported as rate_limited with retryAfterMs by the one-attempt port", async () => {
    const { app, privateKey } = await fx.newApp();
    await injectFault(fx.emu.url, { method: "POST", path: "/oauth2/v2.0/token", status: 429, retryAfter: 7, count: 1 });
    const { works, sleeps } = fx.client();
    assert.equal((await works.issueToken({ ...app, privateKey })).expires_in, 86400);
    assert.deepEqual(sleeps, [7000]);
    await injectFault(fx.emu.url, { method: "POST", path: "/oauth2/v2.0/token", status: 429, retryAfter: 12, count: 1 });
    const e = await failure(worksTokenApi({ authBaseUrl: fx.proxy.url }).issue(app));
    assert.ok(e instanceof WorksApiError);
    assert.equal(e.code, "ERR_WORKS_RATE_LIMITED");
    const f = classifyWorksFailure(e);
    assert.deepEqual([f.kind, f.retryAfterMs, f.ambiguous], ["rate_limited", 12000, false]);
  });

  test("a bot's per-minute limit: messages are retried after rateLimit-reset, then the 429 is thrown with the wait", async () => {
    const { app } = await fx.newApp();
    const bot = await createWorksBot(fx.emu.url, { rateLimitPerMinute: 1 });
    const t = await worksTokenApi({ authBaseUrl: fx.proxy.url }).issue(app);
    const { works, sleeps } = fx.client({ retry: { maxAttempts: 3 } });
    const msg = { botId: bot.botId, userId: "u", content: { type: "text", text: "x" } };
    await works.sendBotMessage(t.accessToken, msg);
    const e = await failure(works.sendBotMessage(t.accessToken, msg));
    assert.ok(e instanceof WorksApiError);
    assert.deepEqual([e.code, e.apiCode, e.attempts], ["ERR_WORKS_RATE_LIMITED", "TOO_MANY_REQUESTS", 3]);
    assert.ok(e.retryAfterMs! >= 1000 && e.retryAfterMs! <= 60_000, String(e.retryAfterMs));
    assert.equal(sleeps.length, 2);
    assert.ok(sleeps.every((ms) => ms >= 1000 && ms <= 60_000 && ms % 1000 === 0), sleeps.join());
  });

  test("a wait longer than maxRetryAfterMs is not slept through; an epoch rateLimit-reset is read against Date", async () => {
    const { app, privateKey } = await fx.newApp();
    await injectFault(fx.emu.url, { method: "POST", path: "/oauth2/v2.0/token", status: 429, retryAfter: 600, count: 1 });
    const { works, sleeps } = fx.client();
    const e = await failure(works.issueToken({ ...app, privateKey }));
    assert.deepEqual([(e as WorksError).code, (e as WorksError).retryAfterMs, sleeps.length], ["ERR_WORKS_RATE_LIMITED", 600_000, 0]);
    const date = "Sun, 22 Nov 2026 04:00:00 GMT";
    const epoch = Date.parse(date) / 1000 + 30;
    assert.equal(worksRetryAfterMs(new Headers({ date, "ratelimit-reset": String(epoch) }), 0), 30_000);
    assert.equal(worksRetryAfterMs(new Headers({ "ratelimit-reset": "5", "retry-after": "9" }), 0), 9_000, "Retry-After wins");
    assert.equal(worksRetryAfterMs(new Headers({ "ratelimit-reset": "soon" }), 0), undefined);
  });
});

describe("retries by policy", () => {
  test("a 503 on the assertion grant is retried; on the refresh grant it is thrown at once as ambiguous", async () => {
    const { app, privateKey } = await fx.newApp({ rotation: true });
    const { works, sleeps } = fx.client();
    await injectFault(fx.emu.url, { method: "POST", path: "/oauth2/v2.0/token", status: 503, count: 1 });
    const t = await works.issueToken({ ...app, privateKey });
    assert.equal(sleeps.length, 1);
    await injectFault(fx.emu.url, { method: "POST", path: "/oauth2/v2.0/token", status: 503, count: 1 });
    const e = await failure(works.refreshToken(app, t.refresh_token!));
    assert.ok(e instanceof WorksApiError);
    assert.deepEqual([e.code, e.attempts, e.ambiguous, classifyWorksFailure(e).kind], ["ERR_WORKS_SERVER", 1, true, "ambiguous"]);
  });

  test("a reset connection on a bot message is not retried (it may have been sent); refused connections are not_sent", async () => {
    const { app } = await fx.newApp();
    const bot = await createWorksBot(fx.emu.url);
    const t = await worksTokenApi({ authBaseUrl: fx.proxy.url }).issue(app);
    await injectFault(fx.emu.url, { method: "POST", path: "/v1.0/bots/*", reset: true, count: 1 });
    const { works } = fx.client();
    const e = await failure(works.sendBotMessage(t.accessToken, { botId: bot.botId, userId: "u", content: { type: "text", text: "x" } }));
    assert.deepEqual([(e as WorksError).code, (e as WorksError).attempts, (e as WorksError).ambiguous], ["ERR_WORKS_NETWORK", 1, true]);
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((r) => closed.close(r));
    const { works: offline, sleeps } = fx.client({ authBaseUrl: url, retry: { maxAttempts: 2 } });
    const down = await failure(offline.revokeToken(app, "kr1AAAAx"));
    assert.deepEqual([(down as WorksError).code, (down as WorksError).delivery, (down as WorksError).causeCode, sleeps.length], ["ERR_WORKS_NETWORK", "not_sent", "ECONNREFUSED", 1]);
    assert.equal(classifyWorksFailure(down).kind, "not_sent");
  });

  test("classifyWorksFailure treats foreign errors as ambiguous without repeating their text", () => {
    const f = classifyWorksFailure(new Error("token kr1AAAAsecret leaked"));
    assert.deepEqual(f, { code: "ERR_UPSTREAM", message: "the request to LINE WORKS failed", kind: "ambiguous", ambiguous: true, retryAfterMs: null, invalidGrant: false, unauthorized: false });
  });
});

describe("bad input", () => {
  test("bad options are refused naming the field", () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ baseUrl: "http://x" }, "baseUrl"],
      [{ authBaseUrl: "ftp://x" }, "authBaseUrl"],
      [{ apiBaseUrl: "not a url" }, "apiBaseUrl"],
      [{ assertionLifetimeSeconds: 3601 }, "assertionLifetimeSeconds"],
      [{ timeoutMs: -1 }, "timeoutMs"],
      [{ retry: { tries: 2 } }, "retry.tries"],
    ];
    for (const [options, field] of bad) {
      assert.throws(() => resolveWorksConfig(options as never), (e: unknown) => e instanceof InvalidInputError && e.field === field, field);
    }
    assert.throws(() => resolveWorksConfig({ env: { KAGIYA_WORKS_AUTH_BASE: "nope" } }), (e: unknown) => e instanceof InvalidInputError && e.field === "KAGIYA_WORKS_AUTH_BASE");
    const c = resolveWorksConfig({ env: {} });
    assert.deepEqual([c.authBaseUrl, c.apiBaseUrl, c.assertionLifetimeSeconds], ["https://auth.worksmobile.com", "https://www.worksapis.com", 3600]);
    assert.equal(resolveWorksConfig({ env: { KAGIYA_WORKS_API_BASE: "http://127.0.0.1:1/" } }).apiBaseUrl, "http://127.0.0.1:1");
  });

  test("bad credentials and messages are refused before anything is sent", async () => {
    const { app, privateKey } = await fx.newApp();
    const { works } = fx.client();
    const sent = fx.proxy.requests.length;
    const calls: Array<[Promise<unknown>, string]> = [
      [works.issueToken({ ...app, privateKey, serviceAccount: "no-at-sign" }), "serviceAccount"],
      [works.issueToken({ ...app, privateKey, scope: "bot;user.read" }), "scope"],
      [works.issueToken({ ...app, privateKey, clientSecret: "" }), "clientSecret"],
      [works.issueToken({ ...app, privateKey: {} as never }), "privateKey"],
      [works.refreshToken(app, "line\nbreak"), "refreshToken"],
      [works.revokeToken({ ...app, clientId: "with space" }, "t"), "clientId"],
      [works.sendBotMessage("tok", { botId: "1", userId: "a/b", content: { type: "text" } }), "userId"],
      [works.sendBotMessage("tok", { botId: "1", content: { type: "text" } } as never), "userId"],
      [works.sendBotMessage("tok", { botId: "1", userId: "u", content: "hi" as never }), "content"],
      [works.sendBotMessage("", { botId: "1", userId: "u", content: { type: "text" } }), "accessToken"],
    ];
    const api = worksTokenApi({ authBaseUrl: fx.proxy.url });
    calls.push([api.issue(null as never), "app"], [api.refresh(undefined as never, "rt"), "app"], [api.revoke({ ...app, clientSecret: "a b" }, "t"), "clientSecret"]);
    for (const [p, field] of calls) {
      const e = await failure(p);
      assert.ok(e instanceof InvalidInputError, field);
      assert.equal(e.field, field);
    }
    assert.equal(fx.proxy.requests.length, sent);
  });

  test("every client error is a KagiyaError with a stable ERR_WORKS_ code", async () => {
    const e = await failure(createWorksClient({ authBaseUrl: fx.proxy.url, retry: { maxAttempts: 1 } }).revokeToken({ clientId: "nobody", clientSecret: "x" }, "t"));
    assert.ok(e instanceof KagiyaError && e instanceof WorksError);
    assert.equal(e.code, "ERR_WORKS_INVALID_CLIENT");
  });
});

test("docs/works.md lists every ERR_WORKS_ code", () => {
  const doc = readFileSync(new URL("../../../docs/works.md", import.meta.url), "utf8");
  for (const code of WORKS_ERROR_CODES) assert.match(doc, new RegExp(`\\| \`${code}\` \\|`), code);
});
