// The emulator's LINE WORKS auth server over HTTP: the JWT bearer grant with hand-signed
// assertions (node:crypto, not kagiya's JWT code), each of seed 003's mistakes refused with an
// RFC 6749 error, expires_in as a string, refresh with rotation on and off, revoke, the clock,
// faults, and the control API's refusals.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { emulatorJson, injectFault, startTestEmulator, testKeyPair, type TestEmulator } from "../helpers/emulator.ts";
import { createWorksApp, createWorksBot, jwtBearerForm, postForm, signWorksAssertion, worksAccessTokens, worksRefreshTokens, type TestWorksApp } from "../helpers/works-emulator.ts";

let emu: TestEmulator;
let app: TestWorksApp;
before(async () => {
  emu = await startTestEmulator();
  app = await createWorksApp(emu.url);
});
after(() => emu.close());

const TOKEN = "/oauth2/v2.0/token";

async function issue(a: TestWorksApp, scope = "bot"): Promise<{ status: number; body: any; headers: Headers }> {
  return postForm(emu.url, TOKEN, jwtBearerForm(a, signWorksAssertion(a), scope));
}

async function refresh(a: TestWorksApp, refreshToken: string): Promise<{ status: number; body: any }> {
  return postForm(emu.url, TOKEN, { grant_type: "refresh_token", refresh_token: refreshToken, client_id: a.clientId, client_secret: a.clientSecret });
}

describe("JWT bearer grant", () => {
  test("a correct assertion gets a token whose expires_in is a string, as LINE WORKS sends it", async () => {
    const r = await issue(app, "bot,user.read");
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(Object.keys(r.body).sort(), ["access_token", "expires_in", "refresh_token", "scope", "token_type"]);
    assert.equal(r.body.expires_in, "86400");
    assert.equal(r.body.token_type, "Bearer");
    assert.equal(r.body.scope, "bot user.read", "comma-separated scopes are taken and answered space-separated");
    const ledger = await emulatorJson(emu.url, "GET", `/__emulator/works/apps/${app.clientId}/tokens`);
    const mine = ledger.body.tokens.filter((t: { token: string }) => t.token === r.body.access_token || t.token === r.body.refresh_token);
    assert.deepEqual(mine.map((t: { type: string; state: string }) => `${t.type}:${t.state}`).sort(), ["access:valid", "refresh:valid"]);
  });

  const mistakes: Array<[string, () => string, RegExp]> = [
    ["standard Base64 (GAS Utilities.base64Encode)", () => signWorksAssertion(app, { encoding: "base64" }), /"\+" or "\/"|"=" padding/],
    ["base64url with = padding", () => signWorksAssertion(app, { encoding: "base64url-padded" }), /"=" padding/],
    ["exp as a string", () => signWorksAssertion(app, { claims: { exp: String(Math.floor(Date.now() / 1000) + 3600) } }), /exp must be a number/],
    ["iat as a string", () => signWorksAssertion(app, { claims: { iat: String(Math.floor(Date.now() / 1000)) } }), /iat must be a number/],
  ];
  for (const [name, make, description] of mistakes) {
    test(`seed 003: ${name} is refused with invalid_grant naming the mistake`, async () => {
      const jwt = make();
      const r = await postForm(emu.url, TOKEN, jwtBearerForm(app, jwt));
      assert.equal(r.status, 400);
      assert.equal(r.body.error, "invalid_grant");
      assert.match(r.body.error_description, description);
    });
  }

  test("the standard-Base64 assertion really uses the Base64 alphabet or padding (the mistake is made)", () => {
    const jwt = signWorksAssertion(app, { encoding: "base64" });
    assert.match(jwt, /[+/=]/);
  });

  test("other broken assertions are refused with invalid_grant: sub, iss, lifetime, expiry, alg, signature", async () => {
    const now = Math.floor(Date.now() / 1000);
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
    const cases: Array<[string, RegExp]> = [
      [signWorksAssertion(app, { claims: { sub: "someone@example.com" } }), /sub must be the app's service account/],
      [signWorksAssertion(app, { claims: { sub: app.clientId } }), /sub must be the app's service account/],
      [signWorksAssertion(app, { claims: { iss: "another-client" } }), /iss must be the app's Client ID/],
      [signWorksAssertion(app, { nowSeconds: now, claims: { exp: now + 3601 } }), /exp may be at most 3600 s after iat/],
      [signWorksAssertion(app, { nowSeconds: now - 7200 }), /expired/],
      [signWorksAssertion(app, { claims: { exp: undefined } }), /no exp/],
      [signWorksAssertion(app, { header: { alg: "RS512" } }), /alg must be RS256/],
      [signWorksAssertion({ ...app, privateJwk: other }), /signature does not verify/],
      ["not-a-jwt", /not a JWT/],
    ];
    for (const [jwt, description] of cases) {
      const r = await postForm(emu.url, TOKEN, jwtBearerForm(app, jwt));
      assert.equal(r.status, 400, jwt);
      assert.equal(r.body.error, "invalid_grant");
      assert.match(r.body.error_description, description);
    }
  });

  test("client authentication, grant type, scope and form refusals are RFC 6749 errors", async () => {
    const jwt = signWorksAssertion(app);
    const wrongSecret = await postForm(emu.url, TOKEN, { ...jwtBearerForm(app, jwt), client_secret: "nope" });
    assert.equal(wrongSecret.status, 401);
    assert.equal(wrongSecret.body.error, "invalid_client");
    const unknownGrant = await postForm(emu.url, TOKEN, { ...jwtBearerForm(app, jwt), grant_type: "client_credentials" });
    assert.deepEqual([unknownGrant.status, unknownGrant.body.error], [400, "unsupported_grant_type"]);
    const scope = await postForm(emu.url, TOKEN, jwtBearerForm(app, jwt, "bot mail"));
    assert.deepEqual([scope.status, scope.body.error], [400, "invalid_scope"]);
    assert.match(scope.body.error_description, /mail/);
    const { scope: _s, ...noScope } = jwtBearerForm(app, jwt);
    const missing = await postForm(emu.url, TOKEN, noScope);
    assert.deepEqual([missing.status, missing.body.error], [400, "invalid_request"]);
    const res = await fetch(emu.url + TOKEN, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: string }).error, "invalid_request");
    const repeated = await fetch(emu.url + TOKEN, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "scope=bot&scope=bot" });
    assert.equal(((await repeated.json()) as { error: string }).error, "invalid_request");
  });
});

describe("refresh-token grant", () => {
  test("rotation off (the default): no refresh_token in the answer, and the old one keeps working", async () => {
    const first = await issue(app);
    const rt = first.body.refresh_token as string;
    for (let i = 0; i < 2; i++) {
      const r = await refresh(app, rt);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.refresh_token, undefined);
      assert.equal(r.body.expires_in, "86400");
      assert.notEqual(r.body.access_token, first.body.access_token);
    }
  });

  test("rotation on: a new refresh token each time, and the old one dies (invalid_grant)", async () => {
    const rotating = await createWorksApp(emu.url, { rotation: true, tokenLifetime: 3600 });
    const first = await issue(rotating);
    assert.equal(first.body.expires_in, "3600");
    const second = await refresh(rotating, first.body.refresh_token);
    assert.equal(second.status, 200);
    assert.equal(typeof second.body.refresh_token, "string");
    assert.notEqual(second.body.refresh_token, first.body.refresh_token);
    const reused = await refresh(rotating, first.body.refresh_token);
    assert.deepEqual([reused.status, reused.body.error], [400, "invalid_grant"]);
    assert.equal((await refresh(rotating, second.body.refresh_token)).status, 200);
  });

  test("rotation on, two refreshes racing with the same refresh token: exactly one wins, the other gets invalid_grant", async () => {
    const rotating = await createWorksApp(emu.url, { rotation: true });
    const rt = (await issue(rotating)).body.refresh_token as string;
    const answers = await Promise.all([refresh(rotating, rt), refresh(rotating, rt)]);
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 400]);
    assert.equal(answers.find((a) => a.status === 400)!.body.error, "invalid_grant");
    // The ledger counts every time a refresh token was sent, the refused use included.
    const refreshTokens = await worksRefreshTokens(emu.url, rotating.clientId);
    assert.deepEqual(refreshTokens.map((t) => [t.token === rt, t.uses, t.state]), [[true, 2, "revoked"], [false, 0, "valid"]]);
    assert.equal((await worksAccessTokens(emu.url, rotating.clientId)).every((t) => t.uses === 0), true);
  });

  test("rotation can be switched on and off on a live app; another app's refresh token is refused", async () => {
    const a = await createWorksApp(emu.url);
    const rt = (await issue(a)).body.refresh_token as string;
    assert.equal((await emulatorJson(emu.url, "PATCH", `/__emulator/works/apps/${a.clientId}`, { rotation: true })).body.rotation, true);
    const rotated = await refresh(a, rt);
    assert.equal(typeof rotated.body.refresh_token, "string");
    await emulatorJson(emu.url, "PATCH", `/__emulator/works/apps/${a.clientId}`, { rotation: false });
    assert.equal((await refresh(a, rotated.body.refresh_token)).body.refresh_token, undefined);
    const foreign = await refresh(app, rotated.body.refresh_token);
    assert.deepEqual([foreign.status, foreign.body.error], [400, "invalid_grant"]);
  });

  test("refresh tokens expire after 90 days on the emulator clock", async () => {
    const a = await createWorksApp(emu.url);
    const rt = (await issue(a)).body.refresh_token as string;
    await emulatorJson(emu.url, "POST", "/__emulator/clock", { advanceSeconds: 90 * 86400 });
    try {
      assert.equal((await refresh(a, rt)).body.error, "invalid_grant");
    } finally {
      await emulatorJson(emu.url, "POST", "/__emulator/clock", { offsetSeconds: 0 });
    }
  });
});

describe("revoke", () => {
  test("revoking the access token makes the bot API refuse it; revoking the refresh token ends refreshes", async () => {
    const bot = await createWorksBot(emu.url);
    const t = await issue(app);
    const sendPath = `/v1.0/bots/${bot.botId}/users/u1/messages`;
    const sendWith = (token: string) => fetch(emu.url + sendPath, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ content: { type: "text", text: "hi" } }) });
    assert.equal((await sendWith(t.body.access_token)).status, 201);
    const creds = { client_id: app.clientId, client_secret: app.clientSecret };
    assert.equal((await postForm(emu.url, "/oauth2/v2.0/revoke", { ...creds, token: t.body.access_token })).status, 200);
    const refused = await sendWith(t.body.access_token);
    assert.equal(refused.status, 401);
    assert.equal(((await refused.json()) as { code: string }).code, "UNAUTHORIZED");
    assert.equal((await postForm(emu.url, "/oauth2/v2.0/revoke", { ...creds, token: t.body.refresh_token })).status, 200);
    assert.equal((await refresh(app, t.body.refresh_token)).body.error, "invalid_grant");
    assert.equal((await postForm(emu.url, "/oauth2/v2.0/revoke", { ...creds, token: "unknown" })).status, 200, "RFC 7009: unknown tokens answer 200");
    const wrong = await postForm(emu.url, "/oauth2/v2.0/revoke", { ...creds, client_secret: "x", token: "unknown" });
    assert.deepEqual([wrong.status, wrong.body.error], [401, "invalid_client"]);
  });
});

describe("faults and clock", () => {
  test("a 429 fault on the token endpoint answers RFC 6749's shape with rateLimit-reset", async () => {
    await injectFault(emu.url, { method: "POST", path: TOKEN, status: 429, retryAfter: 7, count: 1 });
    const r = await issue(app);
    assert.equal(r.status, 429);
    assert.equal(r.headers.get("ratelimit-reset"), "7");
    assert.equal(typeof r.body.error, "string");
    assert.equal((await issue(app)).status, 200);
  });

  test("a 1 h token dies after an hour on the emulator clock: 401, or 403 UNAUTHORIZED when the app is set so", async () => {
    const a = await createWorksApp(emu.url, { tokenLifetime: 3600, unauthorizedStatus: 403 });
    const bot = await createWorksBot(emu.url);
    const t = await issue(a);
    await emulatorJson(emu.url, "POST", "/__emulator/clock", { advanceSeconds: 3600 });
    try {
      const res = await fetch(`${emu.url}/v1.0/bots/${bot.botId}/users/u1/messages`, { method: "POST", headers: { authorization: `Bearer ${t.body.access_token}`, "content-type": "application/json" }, body: JSON.stringify({ content: { type: "text", text: "hi" } }) });
      assert.equal(res.status, 403);
      assert.deepEqual(Object.keys((await res.json()) as object), ["code", "description"]);
    } finally {
      await emulatorJson(emu.url, "POST", "/__emulator/clock", { offsetSeconds: 0 });
    }
  });
});

describe("control API", () => {
  test("bad app settings are refused with 400 and nothing is created", async () => {
    const { publicJwk } = await testKeyPair();
    const small = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "jwk" });
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "pem", type: "spki" });
    const before = (await emulatorJson(emu.url, "GET", "/__emulator/works/apps")).body.apps.length;
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{}, /publicKey is required/],
      [{ publicKey: small }, /2048-bit/],
      [{ publicKey: ec }, /RSA/],
      [{ publicKey: "not a key" }, /not a readable key/],
      [{ publicKey: publicJwk, serviceAccount: "no-at-sign" }, /serviceAccount/],
      [{ publicKey: publicJwk, tokenLifetime: 7200 }, /3600 or 86400/],
      [{ publicKey: publicJwk, rotation: "yes" }, /rotation must be a boolean/],
      [{ publicKey: publicJwk, scopes: [] }, /scopes/],
      [{ publicKey: publicJwk, colour: "red" }, /unknown field colour/],
    ];
    for (const [body, message] of bad) {
      const r = await emulatorJson(emu.url, "POST", "/__emulator/works/apps", body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.message, message);
    }
    assert.equal((await emulatorJson(emu.url, "GET", "/__emulator/works/apps")).body.apps.length, before);
    assert.equal((await emulatorJson(emu.url, "POST", "/__emulator/works/apps", { publicKey: publicJwk, clientId: app.clientId })).status, 409);
    assert.equal((await emulatorJson(emu.url, "PATCH", `/__emulator/works/apps/${app.clientId}`, { clientSecret: "x" })).status, 400);
    assert.equal((await emulatorJson(emu.url, "PATCH", "/__emulator/works/apps/nobody", { rotation: true })).status, 404);
  });

  test("an app can be registered with PEM: the public key, or the console's PKCS #8 private key", async () => {
    const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const privatePem = pair.privateKey.export({ format: "pem", type: "pkcs8" }) as string;
    for (const publicKey of [pair.publicKey.export({ format: "pem", type: "spki" }), privatePem]) {
      const r = await emulatorJson(emu.url, "POST", "/__emulator/works/apps", { publicKey });
      assert.equal(r.status, 201);
      const a = { clientId: r.body.clientId, clientSecret: r.body.clientSecret, serviceAccount: r.body.serviceAccount, privateJwk: pair.privateKey.export({ format: "jwk" }) };
      assert.equal((await issue(a)).status, 200);
    }
  });

  test("reset empties LINE WORKS apps, bots and tokens too", async () => {
    const other = await startTestEmulator();
    try {
      const a = await createWorksApp(other.url);
      await createWorksBot(other.url);
      assert.equal((await emulatorJson(other.url, "POST", "/__emulator/reset")).status, 204);
      assert.deepEqual((await emulatorJson(other.url, "GET", "/__emulator/works/apps")).body, { apps: [] });
      assert.deepEqual((await emulatorJson(other.url, "GET", "/__emulator/works/bots")).body, { bots: [] });
      assert.equal((await issue({ ...a, clientId: a.clientId })).status, 401);
    } finally {
      await other.close();
    }
  });
});
