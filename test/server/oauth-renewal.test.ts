// serve's web login renewed by the same user, against a real authorization server (oidc-provider):
// the replaced refresh token is revoked at the provider (and only it: checked by introspection),
// also when the provider hands out the same grant again (the browser kept its session there);
// a failed revocation never fails the login. And the per-address rate limit of /oauth/*, on an
// injected clock, and `kagiya serve --oauth-rate-limit`'s refusals.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { headlessLogin, nativeClient, startOidcProvider, type TestOidc } from "../helpers/oidc.ts";
import { startProxy, type TestProxy } from "../clients/line/proxy.ts";
import { request, startTestBroker, type TestBroker } from "./helpers.ts";
import { createApiKey } from "../../src/server/apikeys.ts";
import { runCli } from "../helpers/cli.ts";
import { startServe } from "./serve-process.ts";
import { addRegistration, testRegistration } from "../helpers/oauth-registration.ts";
import { generateMasterKeyText } from "../../src/store/sealed.ts";

const SECRET = "renewal-client-secret-0123456789abcdef";
const RETURN = "https://app.example/after-login";
const CALLBACKS = ["/oauth/acme/callback", "/oauth/bare/callback"];

async function register(t: TestBroker, name: string, issuer: string): Promise<void> {
  await addRegistration(t.registry, testRegistration(name, issuer, { webRedirectUri: `${t.url}/oauth/${name}/callback`, returnUrl: RETURN }), SECRET);
}

describe("serve: a renewed web login ends the grant it replaced", () => {
  let oidc: TestOidc;
  /** A provider without a revocation endpoint. */
  let bare: TestOidc;
  let proxy: TestProxy;
  let t: TestBroker;

  before(async () => {
    oidc = await startOidcProvider({ accessTokenTtlS: 600, clients: [nativeClient("kagiya-web", SECRET, CALLBACKS)] });
    bare = await startOidcProvider({ accessTokenTtlS: 600, revocation: false, clients: [nativeClient("kagiya-web", SECRET, CALLBACKS)] });
    proxy = await startProxy(oidc.issuer);
    // Revocation requests go through a proxy, which can refuse them before the provider sees them.
    const viaProxy: typeof fetch = (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      return fetch(url === `${oidc.issuer}/token/revocation` ? `${proxy.url}/token/revocation` : input, init);
    };
    t = await startTestBroker({ channels: 0, server: { oauthFetch: viaProxy } });
    await register(t, "acme", oidc.issuer);
    await register(t, "bare", bare.issuer);
  });
  after(async () => {
    await t.close();
    await proxy.close();
    await oidc.close();
    await bare.close();
  });

  /**
   * start → the provider's login in a browser with cookie `jar` there → kagiya's callback; follows
   * kagiya when it sends the browser back to the provider (`restarts` counts those); ends at the return URL.
   */
  async function webLogin(name: string, jar = new Map<string, string>()) {
    let answer = await fetch(`${t.url}/oauth/${name}/start`, { redirect: "manual" });
    let restarts = -1;
    for (;;) {
      assert.equal(answer.status, 302);
      const location = new URL(answer.headers.get("location")!);
      if (location.origin + location.pathname === RETURN) return { grant: location.searchParams.get("grant") ?? "", error: location.searchParams.get("error"), restarts };
      restarts++;
      assert.ok(restarts < 3, "a login restarts at most once");
      const cookie = answer.headers.get("set-cookie")!.split(";")[0]!;
      const callback = await headlessLogin(location.href, { jar });
      answer = await fetch(callback, { headers: { cookie }, redirect: "manual" });
    }
  }

  const refreshTokenOf = async (grant: string): Promise<string> => t.registry.openGrant((await t.store.getGrant(grant))!).refreshToken;
  /** The grant's oauth.revoke* rows, oldest first. */
  const auditOf = async (grant: string) => (await t.store.listAudit({ channelId: grant, limit: 50 })).filter((a) => a.action.startsWith("oauth.revoke")).reverse();

  test("a new login of the same user (a new provider session) revokes the replaced refresh token only", async () => {
    const first = await webLogin("acme");
    assert.match(first.grant, /^acme\./);
    const old = await refreshTokenOf(first.grant);
    assert.equal((await oidc.introspect(old)).active, true);

    const second = await webLogin("acme");
    assert.equal(second.grant, first.grant, "the same user renews the same grant");
    assert.equal(second.restarts, 0);
    const renewed = await refreshTokenOf(second.grant);
    assert.notEqual(renewed, old);
    assert.equal((await oidc.introspect(old)).active, false, "the replaced refresh token is revoked");
    assert.equal((await oidc.introspect(renewed)).active, true, "the new grant lives on");
    const rows = await auditOf(first.grant);
    assert.deepEqual(rows.map((r) => [r.action, r.actor]), [["oauth.revoke", "oauth-web"]]);
    assert.match(rows[0]!.detail ?? "", /revoked at the provider/);
    for (const text of [JSON.stringify(rows), t.logs.join("\n")]) assert.ok(!text.includes(old) && !text.includes(renewed), "no token in the audit log or the logs");
  });

  test("the same provider session: the provider hands out the same grant, so the login starts over once and ends with a live grant", async () => {
    const jar = new Map<string, string>();
    const first = await webLogin("acme", jar);
    const old = await refreshTokenOf(first.grant);
    const revokedBefore = oidc.events.get("grant.revoked") ?? 0;

    const second = await webLogin("acme", jar);
    assert.equal(second.grant, first.grant);
    assert.equal(second.restarts, 1, "revoking the replaced token ended the reused grant: the browser was sent to log in once more");
    assert.equal((oidc.events.get("grant.revoked") ?? 0) - revokedBefore, 1, "one grant ended: the replaced one");
    const renewed = await refreshTokenOf(second.grant);
    assert.equal((await oidc.introspect(old)).active, false);
    assert.equal((await oidc.introspect(renewed)).active, true, "the grant kagiya keeps is alive");
    assert.ok((await auditOf(first.grant)).some((r) => /ended the new grant with it/.test(r.detail ?? "")));
  });

  test("the same provider session, the login started over and left there: the token API never hands out the access token the provider ended", async () => {
    const jar = new Map<string, string>();
    const first = await webLogin("acme", jar);
    const { key } = await createApiKey(t.store, { channels: [], credentials: ["acme"], name: "renewal-app" });
    const tokenApi = () => request(`${t.url}/v1/grants/${first.grant}/token`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal((await tokenApi()).status, 200);
    // The second login up to kagiya's callback, which sends the browser back to the provider: not followed.
    const start = await fetch(`${t.url}/oauth/acme/start`, { redirect: "manual" });
    const callback = await headlessLogin(start.headers.get("location")!, { jar });
    const restart = await fetch(callback, { headers: { cookie: start.headers.get("set-cookie")!.split(";")[0]! }, redirect: "manual" });
    assert.equal(restart.status, 302);
    assert.equal(new URL(restart.headers.get("location")!).origin, new URL(oidc.issuer).origin, "sent back to the provider");
    const answer = await tokenApi();
    assert.equal(answer.status, 409, answer.text);
    assert.equal(answer.body.error, "ERR_OAUTH_REAUTH_REQUIRED");
    assert.equal((await t.store.getGrant(first.grant))?.status, "reauth_required");
  });

  test("a revocation the provider refuses (503) or cannot do (no endpoint) never fails the login", async () => {
    const first = await webLogin("acme");
    const old = await refreshTokenOf(first.grant);
    const before = (await auditOf(first.grant)).length;
    proxy.refuse = (req) => (req.url === "/token/revocation" ? { status: 503, headers: { "content-type": "text/plain" }, body: "down" } : undefined);
    try {
      const second = await webLogin("acme");
      assert.equal(second.grant, first.grant);
      assert.equal(second.error, null);
    } finally {
      proxy.refuse = undefined;
    }
    const renewed = await refreshTokenOf(first.grant);
    assert.equal((await oidc.introspect(renewed)).active, true);
    assert.equal((await oidc.introspect(old)).active, true, "the provider never saw the revocation");
    const failed = (await auditOf(first.grant)).slice(before);
    assert.deepEqual(failed.map((r) => r.action), ["oauth.revoke_failed"]);
    assert.match(failed[0]!.detail ?? "", /ERR_OAUTH/);
    assert.ok(t.logs.some((l) => l.includes("could not revoke the refresh token a web login replaced")));
    assert.ok(!t.logs.join("\n").includes(old));

    const a = await webLogin("bare");
    const b = await webLogin("bare");
    assert.equal(b.grant, a.grant);
    assert.equal(b.error, null);
    const rows = await auditOf(a.grant);
    assert.equal(rows.length, 1);
    assert.match(rows[0]!.detail ?? "", /no RFC 7009 revocation endpoint/);
  });
});

/** GET from a given local address (the whole of 127.0.0.0/8 is loopback). */
function getFrom(url: string, localAddress: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { localAddress }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d)).on("end", () => {
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch { /* a redirect's empty body */ }
        resolve({ status: res.statusCode!, headers: res.headers, body });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

describe("serve: /oauth/* rate limit per client address", () => {
  let oidc: TestOidc;
  let t: TestBroker;
  let clock = Date.now();

  before(async () => {
    oidc = await startOidcProvider({ clients: [nativeClient("kagiya-web", SECRET, CALLBACKS)] });
    t = await startTestBroker({ channels: 0, server: { now: () => clock, oauthRateLimit: { perSecond: 3 / 60, burst: 3 } } });
    await register(t, "acme", oidc.issuer);
  });
  after(async () => {
    await t.close();
    await oidc.close();
  });

  test("the N+1-th request from one address gets 429 with Retry-After; another address is not affected; after the window it passes", async () => {
    const start = `${t.url}/oauth/acme/start`;
    for (let i = 0; i < 2; i++) assert.equal((await getFrom(start, "127.0.0.1")).status, 302);
    // The callback counts too (this one is refused for want of a login in progress).
    assert.equal((await getFrom(`${t.url}/oauth/acme/callback?code=x&state=y`, "127.0.0.1")).status, 302);
    const over = await getFrom(start, "127.0.0.1");
    assert.equal(over.status, 429);
    assert.equal(over.body["error"], "ERR_RATE_LIMITED");
    assert.ok(Number(over.headers["retry-after"]) >= 1, String(over.headers["retry-after"]));
    assert.equal((await getFrom(`${t.url}/oauth/acme/callback?code=x&state=y`, "127.0.0.1")).status, 429);

    assert.equal((await getFrom(start, "127.0.0.2")).status, 302, "another address has its own allowance");

    clock += 60_000;
    assert.equal((await getFrom(start, "127.0.0.1")).status, 302, "a minute later the address is allowed again");
  });

  test("the dashboard login keeps its own per-address limit (the same mechanism, apart from /oauth/*)", async () => {
    const attempt = () => fetch(`${t.url}/ui/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: "wrong" }) });
    for (let i = 0; i < 10; i++) assert.equal((await attempt()).status, 401);
    const over = await attempt();
    assert.equal(over.status, 429);
    assert.match(over.headers.get("retry-after") ?? "", /^[1-9]\d*$/);
    assert.equal(((await over.json()) as { error: string }).error, "ERR_RATE_LIMITED");
  });

  test("kagiya serve --oauth-rate-limit N: N requests a minute per address; bad values get one line and exit 2", async () => {
    const env = { KAGIYA_MASTER_KEY: generateMasterKeyText() };
    for (const value of ["0", "1.5", "x", "-3", "100001"]) {
      const r = await runCli(["serve", "--store", "sqlite::memory:", "--oauth-rate-limit", value], { env });
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, /--oauth-rate-limit must be a whole number/);
    }
    const serve = await startServe(["--store", "sqlite::memory:", "--oauth-rate-limit", "2"], { ...env, KAGIYA_LOG_LEVEL: "warn" });
    try {
      // Counted before the provider is looked up: unknown names too.
      for (let i = 0; i < 2; i++) assert.equal((await getFrom(`${serve.url}/oauth/nobody/start`, "127.0.0.1")).status, 404);
      const over = await getFrom(`${serve.url}/oauth/nobody/start`, "127.0.0.1");
      assert.equal(over.status, 429);
      const wait = Number(over.headers["retry-after"]);
      assert.ok(wait >= 1 && wait <= 30, String(wait));
    } finally {
      assert.equal(await serve.stop(), 0);
    }
  });
});
