// Grants through the engine, over real HTTP against the emulator's LINE WORKS side, on every
// store: the `refresh-token` policy with rotation on and off (and `assertion` beside it), four
// processes racing a rotating refresh, the store failing at the moment a rotated refresh token must
// be written, a process killed between the answer and the write, a newer grant adopted after
// invalid_grant, and a grant nobody can renew (ERR_OAUTH_REAUTH_REQUIRED). The emulator's ledger
// counts every use of every refresh token: the witness that none is used twice.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { emulatorJson } from "../helpers/emulator.ts";
import { createWorksApp, postForm, worksAccessTokens, worksRefreshTokens, type TestWorksApp } from "../helpers/works-emulator.ts";
import { worksTokenApi, type WorksTokenApi } from "../../src/clients/works/port.ts";
import { lineWorksKind } from "../../src/kinds/line-works/index.ts";
import { StoreError } from "../../src/store/errors.ts";
import { ChannelRegistry } from "../../src/store/registry.ts";
import { MasterKey, Sealer } from "../../src/store/sealed.ts";
import type { Store } from "../../src/store/types.ts";
import { ReauthRequiredError } from "../../src/tokens/errors.ts";
import type { CredentialKind } from "../../src/tokens/kind.ts";
import { TokenManager } from "../../src/tokens/manager.ts";
import type { TokenUpdate } from "../../src/tokens/grants.ts";
import { allBackends } from "./backends.ts";
import { sha, spawnChild, storm } from "./processes.ts";
import { tokenWorld, type TokenWorld } from "./setup.ts";

type Policy = "assertion" | "refresh-token";

async function addWorksApp(registry: ChannelRegistry, app: TestWorksApp, refresh: Policy, kind = "line-works"): Promise<string> {
  const id = `works-${randomBytes(4).toString("hex")}`;
  await registry.add({
    channelId: id,
    kind,
    kid: "",
    privateKey: app.privateJwk as never,
    channelSecret: "",
    settings: { clientId: app.clientId, serviceAccount: app.serviceAccount, scope: "bot", refresh },
    secrets: { clientSecret: app.clientSecret },
  });
  return id;
}

async function worksWorld(backend: Parameters<typeof tokenWorld>[0], rotation: boolean, refresh: Policy): Promise<TokenWorld & { app: TestWorksApp; id: string }> {
  const w = await tokenWorld(backend);
  const app = await createWorksApp(w.emu.url, { rotation, tokenLifetime: 3600 });
  return Object.assign(w, { app, id: await addWorksApp(w.registry, app, refresh) });
}

/** Moves every clock past the credential's refresh point. */
async function pastRefreshPoint(w: TokenWorld, id: string): Promise<void> {
  const cur = await w.store.getCurrent(id);
  await w.clock.advance(Math.ceil((cur.token!.refreshAt - w.clock.now()) / 1000) + 1);
}

/** The grant types of the app's access tokens, oldest first ("jwt-bearer" = an assertion). */
async function grantsUsed(w: TokenWorld & { app: TestWorksApp }): Promise<string[]> {
  return (await worksAccessTokens(w.emu.url, w.app.clientId)).map((t) => t.grant);
}

/** A store whose every call fails while `down` is set (a store outage, on the real backend). */
function flakyStore(store: Store): { store: Store; set(down: boolean): void; failOnce(method: string): void } {
  let down = false;
  let trip: string | null = null;
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        // The outage begins at the moment the tripping call is made, and lasts until set(false).
        if (trip !== null && prop === trip) [down, trip] = [true, null];
        if (down && prop !== "close") return Promise.reject(new StoreError(`${target.kind} store is unavailable (injected)`, { code: "ERR_STORE_UNAVAILABLE" }));
        return v.apply(target, args);
      };
    },
  });
  return { store: proxy, set: (d) => void (down = d), failOnce: (m) => void (trip = m) };
}

for (const backend of await allBackends()) describe(backend.name, { skip: backend.skip }, () => {
  for (const rotation of [false, true]) {
    for (const policy of ["assertion", "refresh-token"] as const) {
      test(`rotation ${rotation ? "on" : "off"}, refresh policy ${policy}: two refreshes by two managers, each refresh token used at most once${rotation ? "" : " per refresh"}`, async () => {
        const w = await worksWorld({ backend }, rotation, policy);
        const updates: TokenUpdate[] = [];
        const grants: Array<[number, string]> = [];
        const a = w.manager({ worksAuthBase: w.emu.url, onTokens: (_id, t) => void updates.push(t), onGrant: (_id, g) => void grants.push([g.version, g.status]) });
        const other = await w.reopen();
        const b = w.manager({ registry: other.registry, worksAuthBase: w.emu.url });
        const t1 = await a.get(w.id);
        assert.equal((await b.get(w.id)).accessToken, t1.accessToken);
        for (let i = 0; i < 2; i++) {
          await pastRefreshPoint(w, w.id);
          const after = await Promise.all(Array.from({ length: 20 }, (_, j) => (j % 2 ? a : b).get(w.id)));
          assert.equal(new Set(after.map((t) => t.accessToken)).size, 1, "one token for every caller");
        }
        const issued = await grantsUsed(w);
        const refreshTokens = await worksRefreshTokens(w.emu.url, w.app.clientId);
        const grant = await w.store.getGrant(w.id);
        if (policy === "assertion") {
          assert.deepEqual(issued, ["jwt-bearer", "jwt-bearer", "jwt-bearer"], "a fresh assertion each time");
          assert.equal(grant, null, "no refresh token is kept");
          assert.ok(refreshTokens.every((r) => r.uses === 0));
          assert.equal((await a.status(w.id)).grant, null);
        } else {
          assert.deepEqual(issued, ["jwt-bearer", "refresh_token", "refresh_token"], "the first by assertion, then by the stored refresh token");
          const stored = w.registry.openGrant(grant!);
          if (rotation) {
            // Each answer carried a new refresh token, stored by compare-and-set: versions 1, 2, 3.
            assert.deepEqual(refreshTokens.map((r) => [r.uses, r.state]), [[1, "revoked"], [1, "revoked"], [0, "valid"]]);
            assert.equal(stored.refreshToken, refreshTokens[2]!.token);
            assert.deepEqual([grant!.version, grant!.status], [3, "active"]);
          } else {
            // No refresh token in the answers: the first one stays, used once per refresh.
            assert.deepEqual(refreshTokens.map((r) => [r.uses, r.state]), [[2, "valid"]]);
            assert.equal(stored.refreshToken, refreshTokens[0]!.token);
            assert.deepEqual([grant!.version, grant!.status], [1, "active"]);
          }
          assert.deepEqual(stored.scope, ["bot"]);
          const s = await a.status(w.id);
          assert.deepEqual([s.grant?.version, s.grant?.status, s.grant?.pendingWrite], [grant!.version, "active", false]);
        }
        // The in-process hooks: every token manager `a` obtained, in plaintext, and the grant writes it made.
        const mine = updates.map((u) => u.accessToken);
        assert.ok(mine.includes(t1.accessToken));
        for (const u of updates) assert.equal(u.grant === null, policy === "assertion");
        assert.ok(grants.every(([v, st]) => v >= 1 && st === "active"));
        if (policy === "refresh-token") assert.ok(grants.length >= 1, "manager a wrote the first grant");
      });
    }
  }

  test("four processes race a refresh with rotation on: one refresh, no failure reaches a caller, no refresh token used twice", async () => {
    const w = await worksWorld({ backend }, true, "refresh-token");
    const env = { KAGIYA_WORKS_AUTH_BASE: w.emu.url, KAGIYA_TEST_CHANNEL: w.id, KAGIYA_TEST_COUNT: "100" };
    const cold = await storm(w, backend.spec, env, 4);
    let access = await worksAccessTokens(w.emu.url, w.app.clientId);
    assert.equal(access.length, 1, "one issuance when cold");
    for (const r of cold) assert.deepEqual(r.out, { hashes: { [sha(access[0]!.token)]: 100 }, failures: [] }, r.stderr);
    await pastRefreshPoint(w, w.id);
    const refresh = await storm(w, backend.spec, env, 4);
    access = await worksAccessTokens(w.emu.url, w.app.clientId);
    assert.deepEqual(access.map((t) => t.grant), ["jwt-bearer", "refresh_token"], "exactly one refresh, by refresh token");
    for (const r of refresh) assert.deepEqual(r.out, { hashes: { [sha(access[1]!.token)]: 100 }, failures: [] }, r.stderr);
    const refreshTokens = await worksRefreshTokens(w.emu.url, w.app.clientId);
    assert.deepEqual(refreshTokens.map((r) => r.uses), [1, 0]);
    assert.equal(w.registry.openGrant((await w.store.getGrant(w.id))!).refreshToken, refreshTokens[1]!.token);
  });

  test("the store fails when the rotated refresh token must be written: the token is handed out, nothing is lost, no second refresh, written once the store is back", async () => {
    const w = await worksWorld({ backend }, true, "refresh-token");
    const flaky = flakyStore(w.store);
    const registry = await ChannelRegistry.open(flaky.store, new Sealer(MasterKey.parse(w.masterKey)), { now: w.clock.now });
    const m = new TokenManager({ registry, worksAuthBase: w.emu.url, now: w.clock.now, cacheCheckMs: 5_000 });
    const t1 = await m.get(w.id);
    await pastRefreshPoint(w, w.id);
    flaky.failOnce("swapGrant");
    const t2 = await m.get(w.id);
    assert.notEqual(t2.accessToken, t1.accessToken, "the refreshed token is handed out");
    let refreshTokens = await worksRefreshTokens(w.emu.url, w.app.clientId);
    assert.deepEqual(refreshTokens.map((r) => r.uses), [1, 0], "one refresh; the rotated refresh token exists only in memory");
    assert.equal((await w.store.getGrant(w.id))!.version, 1, "the store still holds the spent one");
    // While the store is down: the same token from memory, and no refresh with the spent token.
    for (let i = 0; i < 3; i++) {
      await w.clock.advance(6);
      assert.equal((await m.get(w.id)).accessToken, t2.accessToken);
    }
    assert.equal((await m.maintainChannel(w.id)).error?.code, "ERR_STORE_UNAVAILABLE");
    assert.deepEqual((await worksAccessTokens(w.emu.url, w.app.clientId)).length, 2);
    // The store is back: the next get() that reaches it writes the grant, then the token.
    flaky.set(false);
    await w.clock.advance(6);
    assert.equal((await m.get(w.id)).accessToken, t2.accessToken);
    const grant = (await w.store.getGrant(w.id))!;
    assert.deepEqual([grant.version, w.registry.openGrant(grant).refreshToken], [2, refreshTokens[1]!.token]);
    assert.equal(w.registry.openAccessToken((await w.store.getCurrent(w.id)).token!), t2.accessToken);
    assert.equal((await m.status(w.id)).grant?.pendingWrite, false);
    // Another process refreshes next, with the rotated token: still no refresh token used twice.
    await pastRefreshPoint(w, w.id);
    const other = await w.reopen();
    const t3 = await w.manager({ registry: other.registry, worksAuthBase: w.emu.url }).get(w.id);
    assert.notEqual(t3.accessToken, t2.accessToken);
    refreshTokens = await worksRefreshTokens(w.emu.url, w.app.clientId);
    assert.deepEqual(refreshTokens.map((r) => r.uses), [1, 1, 0]);
    assert.deepEqual(await grantsUsed(w), ["jwt-bearer", "refresh_token", "refresh_token"]);
  });

  test("SIGKILL between the rotated answer and the store write: the next process is refused the spent refresh token and starts over with an assertion", async () => {
    const w = await worksWorld({ backend }, true, "refresh-token");
    await w.manager({ worksAuthBase: w.emu.url }).get(w.id);
    await pastRefreshPoint(w, w.id);
    const k = spawnChild(w, backend.spec, { KAGIYA_WORKS_AUTH_BASE: w.emu.url, KAGIYA_TEST_CHANNEL: w.id, KAGIYA_TEST_KILL_AFTER_ISSUE: "refresh", KAGIYA_TEST_COUNT: "5", KAGIYA_TEST_LOCK_TTL_MS: "300" });
    await k.ready;
    k.child.stdin!.end("go\n");
    const r = await k.done;
    assert.equal(r.signal, "SIGKILL", r.stderr);
    let refreshTokens = await worksRefreshTokens(w.emu.url, w.app.clientId);
    assert.deepEqual(refreshTokens.map((x) => [x.uses, x.state]), [[1, "revoked"], [0, "valid"]], "LINE WORKS rotated; the new refresh token died with the process");
    assert.equal((await w.store.getGrant(w.id))!.version, 1);
    // A new process: its refresh with the stored (spent) token is refused; nothing newer is stored,
    // and the app's key is at hand, so it mints an assertion and keeps that answer's refresh token.
    const m = w.manager({ worksAuthBase: w.emu.url });
    const t = await m.get(w.id);
    assert.deepEqual(await grantsUsed(w), ["jwt-bearer", "refresh_token", "jwt-bearer"]);
    assert.equal(t.accessToken, (await worksAccessTokens(w.emu.url, w.app.clientId))[2]!.token);
    refreshTokens = await worksRefreshTokens(w.emu.url, w.app.clientId);
    assert.deepEqual(refreshTokens.map((x) => x.uses), [2, 0, 0], "the spent one was tried once more (and refused); the lost one never");
    const grant = (await w.store.getGrant(w.id))!;
    assert.deepEqual([grant.version, grant.status, w.registry.openGrant(grant).refreshToken], [2, "active", refreshTokens[2]!.token]);
    assert.equal((await m.status(w.id)).lastError, null);
  });

  test("invalid_grant after another process stored a newer grant: the newer one is adopted, no second assertion", async () => {
    const w = await worksWorld({ backend }, true, "refresh-token");
    await w.manager({ worksAuthBase: w.emu.url }).get(w.id);
    await pastRefreshPoint(w, w.id);
    const real = worksTokenApi({ authBaseUrl: w.emu.url, now: w.clock.now });
    // This process's refresh is held until "another process" has refreshed with the same token and
    // stored its successor: what a stalled process meets when it sends what it read.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let arrived!: () => void;
    const waiting = new Promise<void>((r) => (arrived = r));
    const held: WorksTokenApi = { ...real, refresh: async (app, rt) => (arrived(), await gate, real.refresh(app, rt)) };
    const m = w.manager({ works: held });
    const pending = m.get(w.id);
    await waiting;
    const stored = (await w.store.getGrant(w.id))!;
    const app = { clientId: w.app.clientId, clientSecret: w.app.clientSecret, serviceAccount: w.app.serviceAccount, privateKey: w.app.privateJwk as never, scope: "bot" };
    const theirs = await real.refresh(app, w.registry.openGrant(stored).refreshToken);
    assert.equal(await w.store.swapGrant(w.id, stored.version, { secret: w.registry.sealGrant(w.id, { refreshToken: theirs.refreshToken!, scope: theirs.scope }), status: "active", updatedAt: w.clock.now() }), 2);
    release();
    const t = await pending;
    assert.deepEqual(await grantsUsed(w), ["jwt-bearer", "refresh_token", "refresh_token"], "no assertion: the newer grant was used");
    assert.equal(t.accessToken, (await worksAccessTokens(w.emu.url, w.app.clientId))[2]!.token);
    const refreshTokens = await worksRefreshTokens(w.emu.url, w.app.clientId);
    assert.deepEqual(refreshTokens.map((x) => x.uses), [2, 1, 0], "the first: theirs, then ours (refused); the second: ours, once");
    assert.deepEqual([(await w.store.getGrant(w.id))!.version, w.registry.openGrant((await w.store.getGrant(w.id))!).refreshToken], [3, refreshTokens[2]!.token]);
  });
});

/**
 * A kind that can only refresh (an OAuth grant's shape) over LINE WORKS' refresh-token grant: with
 * no key to fall back on, a refused grant needs a new login.
 */
function refreshOnlyKind(works: WorksTokenApi): CredentialKind {
  const base = lineWorksKind(works);
  return {
    ...base,
    name: "test-refresh-only",
    description: "refresh token only (test)",
    grantUse: () => "required",
    obtain: (credential, policy, grant) => (grant === null ? Promise.reject(new Error("unreachable: the engine never calls without a grant")) : base.obtain(credential, policy, grant)),
  };
}

test("invalid_grant with nothing newer and no key: ERR_OAUTH_REAUTH_REQUIRED, status reauth_required, no more requests; a new login (adopt) brings it back", async () => {
  const w = await tokenWorld();
  const app = await createWorksApp(w.emu.url, { rotation: true, tokenLifetime: 3600 });
  const id = await addWorksApp(w.registry, app, "refresh-token", "test-refresh-only");
  const works = worksTokenApi({ authBaseUrl: w.emu.url, now: w.clock.now });
  const grants: Array<[number, string]> = [];
  const m = w.manager({ works, kinds: [refreshOnlyKind(works)], onGrant: (_id, g) => void grants.push([g.version, g.status]) });
  await assert.rejects(m.get(id), (e: unknown) => e instanceof ReauthRequiredError && e.code === "ERR_OAUTH_REAUTH_REQUIRED" && /log in first/.test(e.message));
  // "Log in": obtain a token and refresh token elsewhere and hand them to the manager.
  const keyApp = { clientId: app.clientId, clientSecret: app.clientSecret, serviceAccount: app.serviceAccount, privateKey: app.privateJwk as never, scope: "bot" };
  const login = await works.issue(keyApp);
  const t1 = await m.adopt(id, { accessToken: login.accessToken, keyId: "login-1", expiresIn: login.expiresIn, grant: { refreshToken: login.refreshToken! } });
  assert.equal((await m.get(id)).accessToken, t1.accessToken);
  assert.deepEqual((await m.status(id)).grant?.status, "active");
  // The provider forgets the grant (revoked by the user), and the access token runs out.
  await postForm(w.emu.url, "/oauth2/v2.0/revoke", { client_id: app.clientId, client_secret: app.clientSecret, token: login.refreshToken! });
  await w.clock.advance(3_600);
  await assert.rejects(m.get(id), (e: unknown) => e instanceof ReauthRequiredError && e.code === "ERR_OAUTH_REAUTH_REQUIRED" && !e.message.includes(login.refreshToken!));
  const s = await m.status(id);
  assert.deepEqual([s.grant?.status, s.grant?.version, s.lastError?.code], ["reauth_required", 2, "ERR_OAUTH_REAUTH_REQUIRED"]);
  assert.deepEqual(grants, [[1, "active"], [2, "reauth_required"]]);
  // Asking again, here or in another process, does not send the dead refresh token again.
  await assert.rejects(m.get(id), (e: unknown) => e instanceof ReauthRequiredError && e.reason === "refused");
  const elsewhere = w.manager({ works, kinds: [refreshOnlyKind(works)] });
  await assert.rejects(elsewhere.get(id), (e: unknown) => e instanceof ReauthRequiredError && e.reason === "refused");
  assert.equal((await elsewhere.status(id)).grant?.status, "reauth_required");
  assert.deepEqual((await worksRefreshTokens(w.emu.url, app.clientId)).map((r) => r.uses), [1]);
  // A new login replaces the refused grant.
  const again = await works.issue(keyApp);
  await m.adopt(id, { accessToken: again.accessToken, keyId: "login-2", expiresIn: again.expiresIn, grant: { refreshToken: again.refreshToken! } });
  assert.deepEqual([(await m.status(id)).grant?.status, (await m.status(id)).grant?.version], ["active", 3]);
  await pastRefreshPoint(w, id);
  const t3 = await m.get(id);
  assert.equal(t3.accessToken, (await worksAccessTokens(w.emu.url, app.clientId)).at(-1)!.token);
  assert.equal((await emulatorJson(w.emu.url, "GET", `/__emulator/works/apps/${app.clientId}/tokens`)).status, 200);
});

test("a throwing onTokens hook loses nothing: the token is stored and handed out, the failure reported without secrets", async () => {
  const w = await tokenWorld();
  const app = await createWorksApp(w.emu.url, { rotation: true });
  const id = await addWorksApp(w.registry, app, "refresh-token");
  const reported: Array<[string, string]> = [];
  const m = w.manager({
    worksAuthBase: w.emu.url,
    onTokens: () => {
      throw new Error("the updater crashed");
    },
    onHookError: (cid, hook) => void reported.push([cid, hook]),
  });
  const t = await m.get(id);
  assert.deepEqual(reported, [[id, "onTokens"]]);
  assert.equal(w.registry.openAccessToken((await w.store.getCurrent(id)).token!), t.accessToken);
  assert.equal((await w.store.getGrant(id))?.version, 1);
  const rejecting = w.manager({ worksAuthBase: w.emu.url, onTokens: async () => Promise.reject(new Error("async crash")), onHookError: (cid, hook) => void reported.push([cid, hook]) });
  await pastRefreshPoint(w, id);
  const t2 = await rejecting.get(id);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(reported, [[id, "onTokens"], [id, "onTokens"]]);
  assert.notEqual(t2.accessToken, t.accessToken);
  assert.equal((await w.store.getGrant(id))?.version, 2);
});
