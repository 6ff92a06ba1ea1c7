// The authorization-code flow against a real authorization server (oidc-provider): discovery, login
// driven headlessly, code exchange with PKCE, ID token, refresh with rotation, revocation, and the
// three client authentication methods.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import {
  clientSecretBasic, clientSecretPost, createAuthorizationRequest, discoverProvider, exchangeCode, noClientAuth, privateKeyJwt,
  refreshTokens, revokeToken, type OAuthClient, type Provider,
} from "../../../src/clients/oauth/index.ts";
import { startProxy } from "../line/proxy.ts";
import { startOidcFixture, type OidcFixture, type TestOidc } from "../../helpers/oidc.ts";

const SCOPE = "openid profile offline_access";

describe("authorization code flow against oidc-provider", () => {
  let fx: OidcFixture;
  let oidc: TestOidc;
  let provider: Provider;
  let client: OAuthClient;
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ecPublic = { ...ec.publicKey.export({ format: "jwk" }), kid: "client-es256", alg: "ES256", use: "sig" };

  before(async () => {
    fx = await startOidcFixture({
      clients: [
        { client_id: "post-client", client_secret: "post-client-secret-0123456789", redirect_uris: ["http://127.0.0.1:53682/callback"], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "client_secret_post" },
        { client_id: "odd:client", client_secret: "s3cret:with+odd %chars/=&", redirect_uris: ["http://127.0.0.1:53682/callback"], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "client_secret_basic" },
        { client_id: "public-client", redirect_uris: ["http://127.0.0.1:53682/callback"], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "none", application_type: "native" },
        { client_id: "jwt-client", redirect_uris: ["http://127.0.0.1:53682/callback"], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "private_key_jwt", token_endpoint_auth_signing_alg: "ES256", jwks: { keys: [ecPublic] } },
      ],
    });
    ({ oidc, provider, client } = fx);
  });
  after(() => fx.close());

  const login = (c: OAuthClient = client) => fx.login({ client: c });

  test("discovery reads the OpenID document: endpoints, RFC 9207 iss support, RS256", () => {
    assert.equal(provider.tokenEndpoint, `${oidc.issuer}/token`);
    assert.equal(provider.revocationEndpoint, `${oidc.issuer}/token/revocation`);
    assert.equal(provider.issParameterSupported, true);
    assert.equal(provider.openid, true);
    assert.deepEqual(provider.idTokenAlgorithms, ["RS256"]);
  });

  test("discovery is cached per issuer: a second call sends nothing", async () => {
    let calls = 0;
    const counting: typeof fetch = (input, init) => { calls++; return fetch(input, init); };
    const issuer = `${oidc.issuer}/`.slice(0, -1); // same issuer string, as a new caller would pass it
    await discoverProvider(issuer, { fetch: counting, cacheMs: 60_000 });
    const before = calls;
    await discoverProvider(issuer, { fetch: counting, cacheMs: 60_000 });
    assert.equal(calls, before);
    await discoverProvider(issuer, { fetch: counting, cacheMs: 0 });
    assert.equal(calls, before + 1);
  });

  test("RFC 8414: kind oauth2 reads oauth-authorization-server; oidc falls back to it on a 404", async () => {
    const direct = await discoverProvider(oidc.issuer, { kind: "oauth2", cacheMs: 0 });
    assert.equal(direct.tokenEndpoint, provider.tokenEndpoint);
    const proxy = await startProxy(oidc.issuer);
    try {
      const asked: string[] = [];
      proxy.rewrite = (req, res) => {
        asked.push(req.url);
        if (req.url === "/.well-known/openid-configuration") return { ...res, status: 404, body: "{}" };
        return { ...res, body: JSON.stringify({ ...JSON.parse(res.body), issuer: proxy.url }) };
      };
      const viaFallback = await discoverProvider(proxy.url, { cacheMs: 0 });
      assert.deepEqual(asked, ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]);
      assert.equal(viaFallback.issuer, proxy.url);
    } finally {
      await proxy.close();
    }
  });

  test("the authorization URL carries PKCE S256, state, nonce and prompt=consent for offline_access", async () => {
    const pending = await createAuthorizationRequest(provider, { clientId: "kagiya-test", redirectUri: oidc.client.redirectUri, scope: SCOPE });
    const q = new URL(pending.url).searchParams;
    assert.equal(q.get("code_challenge_method"), "S256");
    assert.match(q.get("code_challenge")!, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(q.get("state"), pending.state);
    assert.equal(q.get("nonce"), pending.nonce);
    assert.equal(q.get("prompt"), "consent");
    assert.equal(q.get("code_verifier"), null);
    const plain = await createAuthorizationRequest(provider, { clientId: "kagiya-test", redirectUri: oidc.client.redirectUri, scope: "openid" });
    assert.equal(new URL(plain.url).searchParams.get("prompt"), null);
  });

  test("login, exchange, ID token claims, then introspection says the token is active", async () => {
    const { pending, callback } = await login();
    assert.equal(new URL(callback).searchParams.get("iss"), oidc.issuer);
    const tokens = await exchangeCode(provider, client, pending, callback);
    assert.equal(tokens.tokenType, "Bearer");
    assert.equal(tokens.idTokenClaims?.sub, "alice");
    assert.equal(tokens.idTokenClaims?.nonce, pending.nonce);
    assert.ok(tokens.refreshToken);
    assert.deepEqual([...tokens.scope].sort(), ["offline_access", "openid", "profile"]);
    assert.equal(tokens.expiresAt! - tokens.obtainedAt, 5_000);
    assert.equal((await oidc.introspect(tokens.accessToken)).active, true);
  });

  test("refresh rotates the refresh token (the consumed one goes inactive); revoke makes the grant inactive", async () => {
    const { pending, callback } = await login();
    const first = await exchangeCode(provider, client, pending, callback);
    const second = await refreshTokens(provider, client, first);
    assert.notEqual(second.refreshToken, first.refreshToken);
    assert.notEqual(second.accessToken, first.accessToken);
    assert.equal(second.idTokenClaims?.sub, "alice");
    assert.equal((await oidc.introspect(second.refreshToken!)).active, true);
    assert.equal((await oidc.introspect(first.refreshToken!)).active, false);

    const third = await refreshTokens(provider, client, second);
    await revokeToken(provider, client, third.refreshToken!, "refresh_token");
    assert.equal((await oidc.introspect(third.refreshToken!)).active, false);
    await revokeToken(provider, client, third.accessToken, "access_token");
    assert.equal((await oidc.introspect(third.accessToken)).active, false);
    await assert.rejects(refreshTokens(provider, client, third), { code: "ERR_OAUTH_INVALID_GRANT" });
  });

  test("client_secret_post, private_key_jwt, basic with reserved characters, and a public client log in and refresh", async () => {
    const post: OAuthClient = { clientId: "post-client", auth: clientSecretPost("post-client-secret-0123456789") };
    const signing = await crypto.subtle.importKey("jwk", ec.privateKey.export({ format: "jwk" }), { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
    const jwt: OAuthClient = { clientId: "jwt-client", auth: privateKeyJwt(signing, { alg: "ES256", kid: "client-es256" }) };
    // client_secret_basic form-encodes id and secret before base64 (RFC 6749 §2.3.1).
    const odd: OAuthClient = { clientId: "odd:client", auth: clientSecretBasic("s3cret:with+odd %chars/=&") };
    const pub: OAuthClient = { clientId: "public-client", auth: noClientAuth() };
    for (const c of [post, jwt, odd, pub]) {
      const { pending, callback } = await login(c);
      const tokens = await exchangeCode(provider, c, pending, callback);
      assert.equal(tokens.idTokenClaims?.aud, c.clientId);
      const next = await refreshTokens(provider, c, tokens);
      assert.equal((await oidc.introspect(next.accessToken)).active, true, c.clientId);
    }
  });

  test("a wrong client secret is ERR_OAUTH_INVALID_CLIENT and the error carries no secret", async () => {
    const { pending, callback } = await login();
    const wrong: OAuthClient = { clientId: client.clientId, auth: clientSecretBasic("wrong-secret-value") };
    const error = await exchangeCode(provider, wrong, pending, callback).then(() => assert.fail("accepted"), (e: unknown) => e as Error & { code: string });
    assert.equal(error.code, "ERR_OAUTH_INVALID_CLIENT");
    const code = new URL(callback).searchParams.get("code")!;
    for (const secret of ["wrong-secret-value", code, pending.codeVerifier!]) {
      assert.ok(!JSON.stringify({ ...error, message: error.message, stack: error.stack }).includes(secret));
    }
  });
});
