// Everything the client must refuse, each with its own error code, against a real authorization
// server (oidc-provider); a recording proxy in front of it alters answers the server would never send.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  createAuthorizationRequest, defineProvider, discoverProvider, exchangeCode, refreshTokens,
  validateCallback, validateIdToken, type OAuthClient, type Provider,
} from "../../../src/clients/oauth/index.ts";
import { startOidcFixture, tamperIdTokenSub, type OidcFixture, type TestOidc } from "../../helpers/oidc.ts";
import { startProxy, type TestProxy } from "../line/proxy.ts";

const SCOPE = "openid profile offline_access";

describe("refusals", () => {
  let fx: OidcFixture;
  let oidc: TestOidc;
  let proxy: TestProxy;
  let provider: Provider;
  let client: OAuthClient;

  before(async () => {
    fx = await startOidcFixture();
    ({ oidc, provider, client } = fx);
    proxy = await startProxy(oidc.issuer);
  });
  after(async () => {
    await proxy.close();
    await fx.close();
  });

  const login = (options: { deny?: boolean } = {}) => fx.login(options);

  function withCallbackParam(callback: string, name: string, value: string | undefined): string {
    const u = new URL(callback);
    if (value === undefined) u.searchParams.delete(name);
    else u.searchParams.set(name, value);
    return u.href;
  }

  test("a callback from another login attempt is ERR_OAUTH_STATE_MISMATCH and its code stays unused", async () => {
    const { pending, callback } = await login();
    const other = await createAuthorizationRequest(provider, { clientId: client.clientId, redirectUri: oidc.client.redirectUri, scope: SCOPE });
    await assert.rejects(exchangeCode(provider, client, other, callback), { code: "ERR_OAUTH_STATE_MISMATCH" });
    await assert.rejects(exchangeCode(provider, client, pending, withCallbackParam(callback, "state", undefined)), { code: "ERR_OAUTH_STATE_MISMATCH" });
    const tokens = await exchangeCode(provider, client, pending, callback);
    assert.ok(tokens.accessToken);
  });

  test("an iss other than the provider's, or none when it is advertised, is ERR_OAUTH_ISS_MISMATCH", async () => {
    const { pending, callback } = await login();
    assert.throws(() => validateCallback(provider, pending, withCallbackParam(callback, "iss", "https://evil.example")), { code: "ERR_OAUTH_ISS_MISMATCH" });
    assert.throws(() => validateCallback(provider, pending, withCallbackParam(callback, "iss", undefined)), { code: "ERR_OAUTH_ISS_MISMATCH" });
    assert.equal(validateCallback(provider, pending, callback).code, new URL(callback).searchParams.get("code"));
  });

  test("a login the user aborts is ERR_OAUTH_ACCESS_DENIED", async () => {
    const { pending, callback } = await login({ deny: true });
    assert.equal(new URL(callback).searchParams.get("error"), "access_denied");
    await assert.rejects(exchangeCode(provider, client, pending, callback), { code: "ERR_OAUTH_ACCESS_DENIED", error: "access_denied" });
  });

  test("a replayed code is ERR_OAUTH_INVALID_GRANT and the server revokes what the code gave", async () => {
    const { pending, callback } = await login();
    const tokens = await exchangeCode(provider, client, pending, callback);
    await assert.rejects(exchangeCode(provider, client, pending, callback), { code: "ERR_OAUTH_INVALID_GRANT", error: "invalid_grant" });
    assert.equal((await oidc.introspect(tokens.accessToken)).active, false);
  });

  test("a wrong nonce is ERR_OAUTH_ID_TOKEN_NONCE", async () => {
    const { pending, callback } = await login();
    await assert.rejects(exchangeCode(provider, client, { ...pending, nonce: "another-login-attempt-nonce" }, callback), { code: "ERR_OAUTH_ID_TOKEN_NONCE" });
  });

  test("a tampered ID token is ERR_OAUTH_ID_TOKEN_SIGNATURE; an unconfigured algorithm is ERR_OAUTH_ID_TOKEN_ALG", async () => {
    const viaProxy = defineProvider({ ...provider, tokenEndpoint: `${proxy.url}/token` });
    proxy.rewrite = tamperIdTokenSub;
    try {
      const { pending, callback } = await login();
      await assert.rejects(exchangeCode(viaProxy, client, pending, callback), { code: "ERR_OAUTH_ID_TOKEN_SIGNATURE", check: "signature" });
    } finally {
      proxy.rewrite = undefined;
    }
    const { pending, callback } = await login();
    const tokens = await exchangeCode(provider, client, pending, callback);
    const esOnly = defineProvider({ ...provider, idTokenAlgorithms: ["ES256"] });
    await assert.rejects(validateIdToken(esOnly, client.clientId, tokens.idToken!), { code: "ERR_OAUTH_ID_TOKEN_ALG" });
    await assert.rejects(validateIdToken(provider, "someone-else", tokens.idToken!), { code: "ERR_OAUTH_ID_TOKEN_CLAIM", check: "aud" });
    const later = Date.now() + 2 * 3600_000;
    await assert.rejects(validateIdToken(provider, client.clientId, tokens.idToken!, { now: () => later }), { code: "ERR_OAUTH_ID_TOKEN_CLAIM", check: "exp" });
  });

  test("http off loopback is ERR_OAUTH_INSECURE_HTTP unless allowed; nothing is fetched", async () => {
    let calls = 0;
    const counting: typeof fetch = (input, init) => { calls++; return fetch(input, init); };
    await assert.rejects(discoverProvider("http://auth.example.com", { fetch: counting }), { code: "ERR_OAUTH_INSECURE_HTTP" });
    assert.equal(calls, 0);
    const explicit = { issuer: "https://auth.example.com", authorizationEndpoint: "https://auth.example.com/authorize", tokenEndpoint: "http://auth.example.com/token" };
    assert.throws(() => defineProvider(explicit), { code: "ERR_OAUTH_INSECURE_HTTP" });
    assert.equal(defineProvider({ ...explicit, allowInsecureHttp: true }).tokenEndpoint, "http://auth.example.com/token");
    assert.throws(() => defineProvider({ ...explicit, tokenEndpoint: "not a url" }), { code: "ERR_OAUTH_CONFIG" });
    assert.throws(() => defineProvider({ ...explicit, tokenUrl: "x" } as never), { code: "ERR_OAUTH_CONFIG" });
  });

  test("a discovery document naming another issuer or missing an endpoint is ERR_OAUTH_DISCOVERY", async () => {
    await assert.rejects(discoverProvider(proxy.url, { cacheMs: 0 }), { code: "ERR_OAUTH_DISCOVERY" });
    proxy.rewrite = (req, res) => {
      if (!req.url.startsWith("/.well-known/")) return undefined;
      const doc = JSON.parse(res.body) as Record<string, unknown>;
      doc["issuer"] = proxy.url;
      delete doc["token_endpoint"];
      return { ...res, body: JSON.stringify(doc) };
    };
    try {
      await assert.rejects(discoverProvider(proxy.url, { cacheMs: 0 }), { code: "ERR_OAUTH_DISCOVERY", message: /token_endpoint/ });
    } finally {
      proxy.rewrite = undefined;
    }
  });

  test("token answers: a non-Bearer token_type is refused, a string expires_in is read, a bad one refused", async () => {
    const viaProxy = defineProvider({ ...provider, tokenEndpoint: `${proxy.url}/token` });
    // Each case starts from a fresh grant: a refused answer still rotated the refresh token at the server.
    const refreshAnswering = async (change: (body: Record<string, unknown>) => void, now?: number) => {
      const { pending, callback } = await login();
      const tokens = await exchangeCode(provider, client, pending, callback);
      proxy.rewrite = (req, res) => {
        if (req.url !== "/token" || res.status !== 200) return undefined;
        const body = JSON.parse(res.body) as Record<string, unknown>;
        change(body);
        return { ...res, body: JSON.stringify(body) };
      };
      try {
        return await refreshTokens(viaProxy, client, tokens, now === undefined ? {} : { now: () => now });
      } finally {
        proxy.rewrite = undefined;
      }
    };
    const now = Date.now(); // the refreshed ID token is checked at this time too
    const tokens = await refreshAnswering((b) => { b["expires_in"] = "3600"; }, now);
    assert.equal(tokens.expiresAt, now + 3_600_000);
    await assert.rejects(refreshAnswering((b) => { b["expires_in"] = "soon"; }), { code: "ERR_OAUTH_BAD_RESPONSE", field: "expires_in" });
    await assert.rejects(refreshAnswering((b) => { b["token_type"] = "mac"; }), { code: "ERR_OAUTH_BAD_RESPONSE", field: "token_type" });
    await assert.rejects(refreshAnswering((b) => { delete b["access_token"]; }), { code: "ERR_OAUTH_BAD_RESPONSE", field: "access_token" });
  });

  test("reusing a consumed refresh token is ERR_OAUTH_INVALID_GRANT and the server revokes the whole grant", async () => {
    const { pending, callback } = await login();
    const first = await exchangeCode(provider, client, pending, callback);
    const second = await refreshTokens(provider, client, first);
    await assert.rejects(refreshTokens(provider, client, first), { code: "ERR_OAUTH_INVALID_GRANT" });
    assert.equal((await oidc.introspect(second.refreshToken!)).active, false);
  });
});
