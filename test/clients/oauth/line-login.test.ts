// The LINE Login preset end to end against the kagiya emulator over HTTP: login (automatic test
// user), code exchange with PKCE, HS256 and ES256 ID tokens, the profile API through the authorized
// fetch, expiry on the emulator clock, refresh, revoke, and a denied consent.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  LINE_LOGIN, authorizationCodeGrantRequest, clientSecretPost, createAuthorizationRequest, createAuthorizedFetch, exchangeCode,
  MemoryTokenHolder, presetProvider, processTokenResponse, revokeToken, type OAuthClient, type Provider,
} from "../../../src/clients/oauth/index.ts";
import { emulatorJson, startTestEmulator, type TestEmulator } from "../../helpers/emulator.ts";
import { headlessLogin } from "../../helpers/oidc.ts";

const REDIRECT = "http://127.0.0.1:53682/callback";

describe("LINE Login preset against the emulator", () => {
  let emu: TestEmulator;
  let provider: Provider;
  let apiOrigins: string[];
  /** The emulator clock's offset from real time, ms, as the client must see it too. */
  let offsetMs = 0;
  const now = () => Date.now() + offsetMs;

  before(async () => {
    emu = await startTestEmulator();
    const origins = { "https://access.line.me": emu.url, "https://api.line.me": emu.url };
    provider = presetProvider("line-login", { origins });
    apiOrigins = LINE_LOGIN.apiOrigins.map((o) => origins[o as keyof typeof origins] ?? o);
  });
  after(() => emu.close());

  async function channel(settings: Record<string, unknown> = {}): Promise<OAuthClient> {
    const { body } = await emulatorJson(emu.url, "POST", "/__emulator/channels", {});
    const r = await emulatorJson(emu.url, "POST", "/__emulator/line-login", { channelId: body.channelId, ...settings });
    assert.equal(r.status, 200);
    return { clientId: body.channelId, auth: clientSecretPost(body.channelSecret) };
  }

  async function login(client: OAuthClient) {
    const pending = await createAuthorizationRequest(provider, { clientId: client.clientId, redirectUri: REDIRECT, scope: LINE_LOGIN.defaultScope, params: { bot_prompt: "normal" } });
    const callback = await headlessLogin(pending.url);
    return { pending, callback };
  }

  test("the preset's authorization URL: access.line.me path, PKCE, nonce, bot_prompt, no prompt=consent", async () => {
    const client = await channel();
    const pending = await createAuthorizationRequest(provider, { clientId: client.clientId, redirectUri: REDIRECT, scope: LINE_LOGIN.defaultScope, params: { bot_prompt: "aggressive" } });
    const u = new URL(pending.url);
    assert.equal(u.pathname, "/oauth2/v2.1/authorize");
    assert.equal(u.searchParams.get("code_challenge_method"), "S256");
    assert.equal(u.searchParams.get("nonce"), pending.nonce);
    assert.equal(u.searchParams.get("bot_prompt"), "aggressive");
    assert.equal(u.searchParams.get("scope"), "profile openid");
    assert.equal(u.searchParams.get("prompt"), null);
  });

  test("login → HS256 ID token → profile through the authorized fetch → expiry on the emulator clock → refresh → revoke", async () => {
    const client = await channel();
    const { pending, callback } = await login(client);
    const tokens = await exchangeCode(provider, client, pending, callback, { now });
    assert.equal(tokens.idTokenClaims?.iss, "https://access.line.me");
    assert.equal(tokens.idTokenClaims?.aud, client.clientId);
    assert.match(tokens.idTokenClaims!.sub, /^U[0-9a-f]{32}$/);
    assert.equal(JSON.parse(Buffer.from(tokens.idToken!.split(".")[0]!, "base64url").toString()).alg, "HS256");
    assert.equal(tokens.expiresAt! - tokens.obtainedAt, 30 * 24 * 3600 * 1000);

    const holder = new MemoryTokenHolder(provider, client, tokens, { now });
    const call = createAuthorizedFetch({ holder, allowedOrigins: apiOrigins });
    const profile = await (await call(`${emu.url}/v2/profile`)).json() as { userId: string };
    assert.equal(profile.userId, tokens.idTokenClaims!.sub);
    assert.equal(holder.refreshCount, 0);

    // 30 days later the old token is dead at the emulator; the holder refreshes ahead of expiry.
    const advanced = await emulatorJson(emu.url, "POST", "/__emulator/clock", { advanceSeconds: 30 * 24 * 3600 });
    offsetMs = advanced.body.offsetSeconds * 1000;
    const verifyOld = await emulatorJson(emu.url, "GET", `/oauth2/v2.1/verify?access_token=${encodeURIComponent(tokens.accessToken)}`);
    assert.equal(verifyOld.status, 400);
    assert.equal((await call(`${emu.url}/v2/profile`)).status, 200);
    assert.equal(holder.refreshCount, 1);
    const fresh = holder.tokens;
    assert.notEqual(fresh.accessToken, tokens.accessToken);
    assert.equal(fresh.refreshToken, tokens.refreshToken);
    assert.equal(fresh.idTokenClaims?.sub, tokens.idTokenClaims?.sub);
    const verified = await emulatorJson(emu.url, "GET", `/oauth2/v2.1/verify?access_token=${encodeURIComponent(fresh.accessToken)}`);
    assert.equal(verified.body.client_id, client.clientId);

    await revokeToken(provider, client, fresh.accessToken, "access_token", { now });
    assert.equal((await emulatorJson(emu.url, "GET", `/oauth2/v2.1/verify?access_token=${encodeURIComponent(fresh.accessToken)}`)).status, 400);
    await assert.rejects(call(`${emu.url}/v2/profile`), { code: "ERR_OAUTH_REAUTH_REQUIRED" });
  });

  test("an ES256 ID token is verified against the JWKS", async () => {
    const client = await channel({ idTokenAlg: "ES256" });
    const { pending, callback } = await login(client);
    const tokens = await exchangeCode(provider, client, pending, callback, { now });
    const header = JSON.parse(Buffer.from(tokens.idToken!.split(".")[0]!, "base64url").toString());
    assert.equal(header.alg, "ES256");
    assert.equal(tokens.idTokenClaims?.nonce, pending.nonce);
  });

  test("an ID token signed with another channel's secret is ERR_OAUTH_ID_TOKEN_SIGNATURE", async () => {
    const client = await channel();
    const stranger = await channel();
    const { pending, callback } = await login(client);
    const wrongSecret: OAuthClient = { clientId: client.clientId, auth: stranger.auth };
    // The code exchange authenticates with the right secret; only the ID token check uses the wrong one.
    const code = new URL(callback).searchParams.get("code")!;
    const { response, secrets } = await authorizationCodeGrantRequest(provider, client, code, pending, { now });
    await assert.rejects(processTokenResponse(provider, wrongSecret, response, { secrets, requestedScope: pending.scope, requireIdToken: true, nonce: pending.nonce, now }), { code: "ERR_OAUTH_ID_TOKEN_SIGNATURE" });
  });

  test("a cancelled consent is ERR_OAUTH_ACCESS_DENIED", async () => {
    const client = await channel({ deny: true });
    const { pending, callback } = await login(client);
    await assert.rejects(exchangeCode(provider, client, pending, callback, { now }), { code: "ERR_OAUTH_ACCESS_DENIED" });
  });
});
