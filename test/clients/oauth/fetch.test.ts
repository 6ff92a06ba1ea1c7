// The authorized fetch and the in-memory token holder against oidc-provider and a resource server
// that checks tokens by introspection: origin restriction, refresh ahead of expiry (injected
// clock), one refresh and one retry on a 401, one refresh for concurrent callers, the onTokens hook.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  createAuthorizedFetch, exchangeCode, MemoryTokenHolder, revokeToken, type MemoryTokenHolderOptions, type TokenSet,
} from "../../../src/clients/oauth/index.ts";
import { startOidcFixture, startResourceServer, type OidcFixture, type TestResource } from "../../helpers/oidc.ts";

describe("authorized fetch", () => {
  let fx: OidcFixture;
  let api: TestResource;
  let other: TestResource;

  before(async () => {
    fx = await startOidcFixture();
    api = await startResourceServer(fx.oidc);
    other = await startResourceServer(fx.oidc);
  });
  after(async () => {
    await api.close();
    await other.close();
    await fx.close();
  });

  async function grant(scope?: string): Promise<TokenSet> {
    const { pending, callback } = await fx.login(scope ? { scope } : {});
    return exchangeCode(fx.provider, fx.client, pending, callback);
  }

  /** A holder with a clock the test moves, and an authorized fetch limited to `api`. */
  async function setup(options: MemoryTokenHolderOptions & { scope?: string } = {}) {
    const tokens = await grant(options.scope);
    const clock = { now: tokens.obtainedAt };
    const holder = new MemoryTokenHolder(fx.provider, fx.client, tokens, { refreshLeewayMs: 1_000, now: () => clock.now, ...options });
    const call = createAuthorizedFetch({ holder, allowedOrigins: [api.url] });
    return { tokens, clock, holder, call };
  }

  const bearerOf = (header: string | undefined) => header?.replace(/^Bearer /, "");

  test("sends the token to an allowed origin only; another origin is refused before anything is sent", async () => {
    const { call, tokens } = await setup();
    const res = await call(`${api.url}/me`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { sub: string }).sub, "alice");
    assert.equal(bearerOf(api.seen.at(-1)), tokens.accessToken);
    const before = other.seen.length;
    await assert.rejects(call(`${other.url}/me`), { code: "ERR_OAUTH_ORIGIN_NOT_ALLOWED" });
    assert.equal(other.seen.length, before);
  });

  test("a redirect to another origin arrives there without the token", async () => {
    const { call } = await setup();
    const res = await call(`${api.url}/redirect-away?to=${encodeURIComponent(`${other.url}/landing`)}`);
    assert.equal(res.status, 401);
    assert.equal(other.seen.at(-1), undefined);
  });

  test("a 401 refreshes once and retries once with the new token", async () => {
    const { call, holder, tokens } = await setup();
    api.refused.add(tokens.accessToken);
    const seenBefore = api.seen.length;
    const res = await call(`${api.url}/me`, { method: "POST", body: "payload" });
    assert.equal(res.status, 200);
    assert.equal(holder.refreshCount, 1);
    const sent = api.seen.slice(seenBefore).map(bearerOf);
    assert.deepEqual(sent, [tokens.accessToken, holder.tokens.accessToken]);
    assert.notEqual(holder.tokens.refreshToken, tokens.refreshToken);
    // A Request with a stream body is retried with an unread copy of it.
    api.refused.add(holder.tokens.accessToken);
    const streamed = new Request(`${api.url}/me`, { method: "POST", body: new Blob(["payload"]).stream(), duplex: "half" } as RequestInit);
    assert.equal((await call(streamed)).status, 200);
    assert.equal(holder.refreshCount, 2);
  });

  test("a token refused again after the refresh: one refresh, one retry, and the 401 is returned", async () => {
    const { call, holder } = await setup();
    const seenBefore = api.seen.length;
    const res = await call(`${api.url}/reject`);
    assert.equal(res.status, 401);
    assert.equal(holder.refreshCount, 1);
    assert.equal(api.seen.length - seenBefore, 2);
  });

  test("refreshes ahead of expiry: not before the leeway, and before sending once inside it", async () => {
    const { call, holder, clock, tokens } = await setup();
    clock.now = tokens.expiresAt! - 1_001;
    await call(`${api.url}/me`);
    assert.equal(holder.refreshCount, 0);
    clock.now = tokens.expiresAt! - 999;
    const seenBefore = api.seen.length;
    assert.equal((await call(`${api.url}/me`)).status, 200);
    assert.equal(holder.refreshCount, 1);
    assert.deepEqual(api.seen.slice(seenBefore).map(bearerOf), [holder.tokens.accessToken]);
  });

  test("concurrent calls past expiry share one refresh; the server consumed one refresh token", async () => {
    const { call, holder, clock, tokens } = await setup();
    clock.now = tokens.expiresAt! + 1;
    const consumed = fx.oidc.events.get("refresh_token.consumed") ?? 0;
    const answers = await Promise.all(Array.from({ length: 10 }, () => call(`${api.url}/me`)));
    assert.deepEqual(answers.map((r) => r.status), Array(10).fill(200));
    assert.equal(holder.refreshCount, 1);
    assert.equal((fx.oidc.events.get("refresh_token.consumed") ?? 0) - consumed, 1);
    assert.equal((await fx.oidc.introspect(holder.tokens.refreshToken!)).active, true);
  });

  test("a caller that aborts during a refresh stops waiting; the refresh completes and is kept", async () => {
    const { call, holder, clock, tokens } = await setup();
    clock.now = tokens.expiresAt! + 1;
    const consumed = fx.oidc.events.get("refresh_token.consumed") ?? 0;
    const ac = new AbortController();
    const aborted = call(`${api.url}/me`, { signal: ac.signal });
    ac.abort();
    await assert.rejects(aborted, { name: "AbortError" });
    assert.equal((await call(`${api.url}/me`)).status, 200);
    assert.equal(holder.refreshCount, 1);
    assert.equal((fx.oidc.events.get("refresh_token.consumed") ?? 0) - consumed, 1);
  });

  test("onTokens sees every new set; when it fails the tokens stay in use and are offered again", async () => {
    const offered: string[] = [];
    let failures = 1;
    const { call, holder, clock, tokens } = await setup({
      onTokens: (t) => {
        offered.push(t.accessToken);
        if (failures-- > 0) throw new Error("store down");
      },
    });
    clock.now = tokens.expiresAt! + 1;
    assert.equal((await call(`${api.url}/me`)).status, 200);
    assert.equal((await call(`${api.url}/me`)).status, 200);
    assert.equal(holder.refreshCount, 1);
    assert.deepEqual(offered, [holder.tokens.accessToken, holder.tokens.accessToken]);
    assert.equal((await call(`${api.url}/me`)).status, 200);
    assert.equal(offered.length, 2);
  });

  test("expired without a refresh token, or with a dead one: ERR_OAUTH_REAUTH_REQUIRED, nothing sent", async () => {
    const noRefresh = await setup({ scope: "openid" });
    assert.equal(noRefresh.tokens.refreshToken, undefined);
    noRefresh.clock.now = noRefresh.tokens.expiresAt! + 1;
    const seenBefore = api.seen.length;
    await assert.rejects(noRefresh.call(`${api.url}/me`), { code: "ERR_OAUTH_REAUTH_REQUIRED" });
    const revoked = await setup();
    await revokeToken(fx.provider, fx.client, revoked.tokens.refreshToken!, "refresh_token");
    revoked.clock.now = revoked.tokens.expiresAt! + 1;
    await assert.rejects(revoked.call(`${api.url}/me`), { code: "ERR_OAUTH_REAUTH_REQUIRED" });
    assert.equal(api.seen.length, seenBefore);
  });
});
