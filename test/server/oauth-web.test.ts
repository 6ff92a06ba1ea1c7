// serve's OAuth side against a real authorization server (oidc-provider): the web login of end users
// (start → provider → callback → a stored grant per user, its ID handed to the return URL), the
// broker API for a grant's token with API keys scoped to a provider, the admin listing (never a
// token), and the refusals of the callback, each with a specific error and nothing stored.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { headlessLogin, nativeClient, startOidcProvider, tamperIdTokenSub, type TestOidc } from "../helpers/oidc.ts";
import { startProxy, type TestProxy } from "../clients/line/proxy.ts";
import { dashboardLogin, request, startTestBroker, type TestBroker } from "./helpers.ts";
import { createApiKey } from "../../src/server/apikeys.ts";
import { OAUTH2_KIND } from "../../src/kinds/oauth2/registration.ts";
import { addRegistration, testRegistration } from "../helpers/oauth-registration.ts";

const SECRET = "web-client-secret-0123456789abcdef";
const ADMIN = "oauth-web-admin-token-" + "z".repeat(24);
const RETURN = "https://app.example/after-login";

describe("serve: web login and grant API", () => {
  let oidc: TestOidc;
  let proxy: TestProxy;
  let t: TestBroker;
  /** The broker's clock runs ahead of real time by this much (the provider's stays real). */
  let offsetMs = 0;

  before(async () => {
    oidc = await startOidcProvider({
      accessTokenTtlS: 600,
      clients: [nativeClient("kagiya-web", SECRET, ["/oauth/acme/callback", "/oauth/plain/callback"])],
    });
    proxy = await startProxy(oidc.issuer);
    // The provider's token endpoint is reached through a recording proxy, which can alter answers.
    const viaProxy: typeof fetch = (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      return fetch(url === `${oidc.issuer}/token` ? `${proxy.url}/token` : input, init);
    };
    t = await startTestBroker({ channels: 0, server: { adminToken: ADMIN, oauthFetch: viaProxy, rateLimit: { perSecond: 1000, burst: 1000 }, now: () => Date.now() + offsetMs } });
    for (const [name, returnUrl] of [["acme", RETURN], ["plain", undefined]] as const) {
      await addRegistration(t.registry, testRegistration(name, oidc.issuer, { webRedirectUri: `${t.url}/oauth/${name}/callback`, returnUrl }), SECRET);
    }
  });
  after(async () => {
    await t.close();
    await proxy.close();
    await oidc.close();
  });

  /** /start → the provider's login (headless) → the callback as the browser would send it, with the cookie. */
  async function webLogin(name: string, options: { deny?: boolean; account?: string; alterUrl?: (u: URL) => void; alterCallback?: (u: URL) => void } = {}) {
    const start = await fetch(`${t.url}/oauth/${name}/start`, { redirect: "manual" });
    assert.equal(start.status, 302);
    const cookie = start.headers.get("set-cookie")!;
    assert.match(cookie, new RegExp(`^kagiya_oauth_${name}=v1\\.[^;]+; Path=/oauth/${name}/; HttpOnly; SameSite=Lax`));
    const url = new URL(start.headers.get("location")!);
    assert.equal(url.origin, oidc.issuer);
    options.alterUrl?.(url);
    const callback = new URL(await headlessLogin(url.href, { ...(options.deny ? { deny: true } : {}), ...(options.account ? { account: options.account } : {}) }));
    assert.equal(callback.origin + callback.pathname, `${t.url}/oauth/${name}/callback`);
    options.alterCallback?.(callback);
    const pair = cookie.split(";")[0]!;
    const answer = await fetch(callback, { headers: { cookie: pair }, redirect: "manual" });
    return { answer, callback, cookie: pair };
  }

  const grantRows = async () => (await t.store.listChannels()).filter((r) => r.kind === OAUTH2_KIND && r.channelId.includes("."));

  test("a web login stores a grant per user and sends its ID to the return URL; the grant API hands out its token", async () => {
    const { answer } = await webLogin("acme");
    assert.equal(answer.status, 302);
    const back = new URL(answer.headers.get("location")!);
    assert.equal(back.origin + back.pathname, RETURN);
    const grant = back.searchParams.get("grant")!;
    assert.match(grant, /^acme\.[A-Za-z0-9_-]{16}$/);
    assert.match(answer.headers.get("set-cookie")!, /Max-Age=0/);

    const { key } = await createApiKey(t.store, { channels: [], credentials: ["acme"], name: "acme-app" });
    const r = await request(`${t.url}/v1/grants/${grant}/token`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.subject, "alice");
    assert.equal(r.headers.get("cache-control"), "no-store");
    assert.equal((await oidc.introspect(r.body.access_token)).active, true);
    const audit = await t.store.listAudit({ channelId: grant, limit: 10 });
    assert.ok(audit.some((a) => a.action === "apikey.use" && a.actor.startsWith("apikey:")), "the key's use is audited");
    assert.ok(audit.some((a) => a.action === "oauth.web_login"));
    assert.ok(!JSON.stringify(audit).includes(r.body.access_token));

    // Past the token's end on the broker's clock: the grant is refreshed with its provider's registration.
    const consumed = oidc.events.get("refresh_token.consumed") ?? 0;
    offsetMs += 610_000;
    const refreshed = await request(`${t.url}/v1/grants/${grant}/token`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(refreshed.status, 200, refreshed.text);
    assert.notEqual(refreshed.body.access_token, r.body.access_token);
    assert.equal((await oidc.introspect(refreshed.body.access_token)).active, true);
    assert.equal((oidc.events.get("refresh_token.consumed") ?? 0) - consumed, 1);

    // The user's grant is revoked at the provider: once the token is past its end, 409 — log in again.
    const state = await t.store.getGrant(grant);
    await fetch(`${oidc.issuer}/token/revocation`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${btoa(`kagiya-web:${SECRET}`)}` },
      body: new URLSearchParams({ token: t.registry.openGrant(state!).refreshToken, token_type_hint: "refresh_token" }).toString(),
    });
    offsetMs += 610_000;
    const dead = await request(`${t.url}/v1/grants/${grant}/token`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(dead.status, 409, dead.text);
    assert.equal(dead.body.error, "ERR_OAUTH_REAUTH_REQUIRED");
    assert.equal((await t.store.getGrant(grant))?.status, "reauth_required");

    // The same user again: the same grant, renewed. Another user: another grant.
    assert.equal(new URL((await webLogin("acme")).answer.headers.get("location")!).searchParams.get("grant"), grant);
    assert.equal((await request(`${t.url}/v1/grants/${grant}/token`, { headers: { authorization: `Bearer ${key}` } })).status, 200);
    const second = new URL((await webLogin("acme", { account: "bob" })).answer.headers.get("location")!).searchParams.get("grant")!;
    assert.notEqual(second, grant);
    assert.equal((await request(`${t.url}/v1/grants/${second}/token`, { headers: { authorization: `Bearer ${key}` } })).body.subject, "bob");

    // Keys scoped elsewhere, unknown grants, malformed IDs, no key.
    const { key: other } = await createApiKey(t.store, { channels: [], credentials: ["plain"], name: "other" });
    assert.equal((await request(`${t.url}/v1/grants/${grant}/token`, { headers: { authorization: `Bearer ${other}` } })).status, 403);
    assert.equal((await request(`${t.url}/v1/grants/acme.doesnotexist0000/token`, { headers: { authorization: `Bearer ${key}` } })).status, 404);
    assert.equal((await request(`${t.url}/v1/grants/acme..x/token`, { headers: { authorization: `Bearer ${key}` } })).status, 400);
    assert.equal((await request(`${t.url}/v1/grants/${grant}/token`)).status, 401);

    // The admin listing: every grant, never a token.
    const s = await dashboardLogin(t.url, ADMIN);
    const listing = await request(`${t.url}/ui/api/grants?provider=acme`, { headers: { cookie: s.cookie } });
    assert.equal(listing.status, 200, listing.text);
    const ids = listing.body.grants.map((g: { name: string }) => g.name).sort();
    assert.deepEqual(ids, ["acme", grant, second].sort());
    const mine = listing.body.grants.find((g: { name: string }) => g.name === grant);
    assert.equal(mine.state, "active");
    assert.equal(mine.subject, "alice");
    assert.equal(mine.provider, "acme");
    assert.ok(!listing.text.includes(r.body.access_token));
    assert.ok(!/refresh_?token|access_?token|idTokenClaims/i.test(listing.text), listing.text);
    assert.equal((await request(`${t.url}/ui/api/grants`)).status, 401);
    // Paged by ID.
    const page1 = await request(`${t.url}/ui/api/grants?provider=acme&limit=2`, { headers: { cookie: s.cookie } });
    assert.equal(page1.body.grants.length, 2);
    const page2 = await request(`${t.url}/ui/api/grants?provider=acme&limit=2&after=${page1.body.next}`, { headers: { cookie: s.cookie } });
    assert.equal(page2.body.next, null);
    assert.deepEqual([...page1.body.grants, ...page2.body.grants].map((g: { name: string }) => g.name), [...ids].sort());
    assert.equal((await request(`${t.url}/ui/api/grants?limit=0`, { headers: { cookie: s.cookie } })).status, 400);
  });

  test("refusals: state, iss, access_denied, a wrong nonce, a tampered ID token, a replayed callback — each specific, nothing stored", async () => {
    const before = (await grantRows()).length;
    const refused = async (what: string, options: Parameters<typeof webLogin>[1], code: string) => {
      const { answer } = await webLogin("acme", options);
      assert.equal(answer.status, 302, what);
      const back = new URL(answer.headers.get("location")!);
      assert.equal(back.searchParams.get("error"), code, what);
      assert.equal(back.searchParams.get("grant"), null);
      assert.equal((await grantRows()).length, before, `${what}: nothing stored`);
    };
    await refused("state", { alterCallback: (c) => c.searchParams.set("state", "forged") }, "ERR_OAUTH_STATE_MISMATCH");
    await refused("iss", { alterCallback: (c) => c.searchParams.set("iss", "https://evil.example") }, "ERR_OAUTH_ISS_MISMATCH");
    await refused("access_denied", { deny: true }, "ERR_OAUTH_ACCESS_DENIED");
    await refused("nonce", { alterUrl: (u) => u.searchParams.set("nonce", "another-attempts-nonce") }, "ERR_OAUTH_ID_TOKEN_NONCE");
    proxy.rewrite = tamperIdTokenSub;
    try {
      await refused("tampered ID token", {}, "ERR_OAUTH_ID_TOKEN_SIGNATURE");
    } finally {
      proxy.rewrite = undefined;
    }
    // A login that succeeded, replayed with its cookie and callback URL: refused, nothing more stored.
    const ok = await webLogin("acme");
    assert.ok(new URL(ok.answer.headers.get("location")!).searchParams.get("grant"));
    const count = (await grantRows()).length;
    const replay = await fetch(ok.callback, { headers: { cookie: ok.cookie }, redirect: "manual" });
    assert.equal(new URL(replay.headers.get("location")!).searchParams.get("error"), "ERR_OAUTH_STATE_MISMATCH");
    assert.equal((await grantRows()).length, count);
    // Without a return URL the refusal is JSON; without the cookie nothing is in progress.
    const plain = await webLogin("plain", { alterCallback: (c) => c.searchParams.set("state", "forged") });
    assert.equal(plain.answer.status, 400);
    assert.equal((await plain.answer.json() as { error: string }).error, "ERR_OAUTH_STATE_MISMATCH");
    const bare = await request(`${t.url}/oauth/plain/callback?code=x&state=y`);
    assert.equal(bare.status, 400);
    assert.equal(bare.body.error, "ERR_OAUTH_STATE_MISMATCH");
    assert.equal((await request(`${t.url}/oauth/nobody/start`)).status, 404);
  });
});
