// Kind `oauth2` in the engine against a real authorization server (oidc-provider, refresh-token
// rotation on): processes sharing a store across an expiry refresh exactly once and reuse nothing;
// a grant is only ever refreshed from the stored refresh token; no grant or a refused one is
// ERR_OAUTH_REAUTH_REQUIRED; a store failing when the rotated grant must be written loses nothing.
// Clocks are injected (children move theirs past the token's end); nothing waits for real expiry.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createAuthorizationRequest, discoverProvider, exchangeCode, clientSecretBasic } from "../../src/clients/oauth/index.ts";
import type { OAuthRegistration } from "../../src/kinds/oauth2/registration.ts";
import { addRegistration, testRegistration } from "../helpers/oauth-registration.ts";
import { ChannelRegistry } from "../../src/store/registry.ts";
import { generateMasterKeyText, MasterKey, Sealer } from "../../src/store/sealed.ts";
import type { Store } from "../../src/store/types.ts";
import { TokenManager } from "../../src/tokens/manager.ts";
import { storeLoginGrant, grantSummaries } from "../../src/tokens/oauth-grants.ts";
import { headlessLogin, nativeClient, startOidcProvider, startResourceServer, type TestOidc, type TestResource } from "../helpers/oidc.ts";
import { postgresBackend, redisBackend, sqliteBackend, type Backend } from "./backends.ts";

const FIXTURE = fileURLToPath(new URL("./fixtures/oauth-calls.ts", import.meta.url));
const SECRET = "kind-client-secret-0123456789abcdef";
// Long enough that no token expires in real time on a loaded machine; the children's clocks jump past it.
const TTL_S = 600;
const masterKey = generateMasterKeyText();
const sealer = () => new Sealer(MasterKey.parse(masterKey));

let oidc: TestOidc;
let api: TestResource;
before(async () => {
  oidc = await startOidcProvider({
    accessTokenTtlS: TTL_S,
    clients: [nativeClient("kagiya-kind", SECRET)],
  });
  api = await startResourceServer(oidc);
});
after(async () => {
  await api.close();
  await oidc.close();
});

function registration(name: string): OAuthRegistration {
  return testRegistration(name, oidc.issuer, { clientId: "kagiya-kind", apiOrigins: [api.url] });
}

/** Registers `name` and logs in once (headlessly), storing the grant as `kagiya oauth login` does. */
async function registerAndLogin(store: Store, name: string): Promise<ChannelRegistry> {
  const registry = await ChannelRegistry.open(store, sealer());
  await addRegistration(registry, registration(name), SECRET);
  const provider = await discoverProvider(oidc.issuer);
  const client = { clientId: "kagiya-kind", auth: clientSecretBasic(SECRET) };
  const pending = await createAuthorizationRequest(provider, { clientId: client.clientId, redirectUri: "http://127.0.0.1:40000/callback", scope: "openid profile offline_access" });
  const tokens = await exchangeCode(provider, client, pending, await headlessLogin(pending.url));
  await storeLoginGrant(new TokenManager({ registry }), name, tokens);
  return registry;
}

const events = (name: string): number => oidc.events.get(name) ?? 0;

function child(spec: string, grant: string): { ready: Promise<void>; go(): void; done: Promise<{ code: number | null; out: { statuses: Record<string, number>; failures: string[] } | null; stderr: string }> } {
  const c = spawn(process.execPath, [FIXTURE], {
    env: { PATH: process.env["PATH"] ?? "", KAGIYA_TEST_STORE: spec, KAGIYA_MASTER_KEY: masterKey, KAGIYA_TEST_GRANT: grant, KAGIYA_TEST_URL: `${api.url}/me`, KAGIYA_TEST_COUNT: "25", KAGIYA_TEST_SHIFT_MS: String((TTL_S + 10) * 1000) },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let onReady!: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  c.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
    if (stdout.startsWith("ready\n")) onReady();
  });
  c.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const done = new Promise<{ code: number | null; out: { statuses: Record<string, number>; failures: string[] } | null; stderr: string }>((resolve) => c.on("close", (code) => {
    onReady();
    const line = stdout.split("\n").find((l) => l.startsWith("{"));
    resolve({ code, out: line ? JSON.parse(line) : null, stderr });
  }));
  return { ready, go: () => c.stdin.end("go\n"), done };
}

const backends: Backend[] = [sqliteBackend(), await redisBackend(), await postgresBackend()];

for (const backend of backends) {
  describe(`oauth2 grants on ${backend.name}`, { skip: backend.skip }, () => {
    test("4 processes × 50 calls across an expiry: one refresh, every call answered, the grant still active, no reuse", async () => {
      const store = await backend.open();
      try {
        const name = `herd-${backend.name}`;
        const registry = await registerAndLogin(store, name);
        const consumed = events("refresh_token.consumed");
        const revoked = events("grant.revoked");
        const seenBefore = api.seen.length;
        const kids = Array.from({ length: 4 }, () => child(backend.spec, name));
        await Promise.all(kids.map((k) => k.ready));
        for (const k of kids) k.go();
        const results = await Promise.all(kids.map((k) => k.done));
        for (const r of results) {
          assert.equal(r.code, 0, r.stderr);
          assert.deepEqual(r.out, { statuses: { 200: 50 }, failures: [] }, r.stderr);
        }
        assert.equal(events("refresh_token.consumed") - consumed, 1, "exactly one refresh");
        assert.equal(events("grant.revoked") - revoked, 0, "no reuse detected");
        const tokens = new Set(api.seen.slice(seenBefore));
        assert.equal(tokens.size, 2, "the login's token, then the refreshed one");
        const state = await store.getGrant(name);
        assert.equal(state?.status, "active");
        assert.equal(state?.version, 2, "the login's grant, then the rotated one");
        assert.equal((await oidc.introspect(registry.openGrant(state!).refreshToken)).active, true);
        const [summary] = await grantSummaries({ store }, [(await store.getChannel(name))!]);
        assert.equal(summary!.state, "active");
      } finally {
        await store.close();
      }
    });
  });
}

describe("oauth2 grants in one process", () => {
  test("no grant, then a refused one: ERR_OAUTH_REAUTH_REQUIRED and the grant shows reauth_required", async () => {
    const store = await sqliteBackend().open();
    try {
      const registry = await ChannelRegistry.open(store, sealer());
      await addRegistration(registry, registration("nologin"), SECRET);
      const manager = new TokenManager({ registry });
      await assert.rejects(manager.get("nologin"), { code: "ERR_OAUTH_REAUTH_REQUIRED" });

      await registerAndLogin(store, "refused");
      let offset = 0;
      const late = new TokenManager({ registry: await ChannelRegistry.open(store, sealer()), now: () => Date.now() + offset });
      const first = await late.get("refused");
      // The provider forgets the grant (revoked elsewhere); the next refresh is refused.
      const grant = registry.openGrant((await store.getGrant("refused"))!);
      await fetch(`${oidc.issuer}/token/revocation`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${btoa(`kagiya-kind:${SECRET}`)}` },
        body: new URLSearchParams({ token: grant.refreshToken, token_type_hint: "refresh_token" }).toString(),
      });
      offset = (TTL_S + 10) * 1000;
      await assert.rejects(late.get("refused"), { code: "ERR_OAUTH_REAUTH_REQUIRED" });
      assert.equal((await store.getGrant("refused"))?.status, "reauth_required");
      assert.ok(first.accessToken);
    } finally {
      await store.close();
    }
  });

  test("onTokens (the seed's token_updater) sees every refresh with the rotated grant; a failing hook loses nothing", async () => {
    const store = await sqliteBackend().open();
    try {
      await registerAndLogin(store, "hooked");
      const seen: Array<{ refreshToken: string | undefined; accessToken: string }> = [];
      const hookErrors: string[] = [];
      let offset = 0;
      const manager = new TokenManager({
        registry: await ChannelRegistry.open(store, sealer()),
        now: () => Date.now() + offset,
        onTokens: (_id, t) => {
          seen.push({ refreshToken: t.grant?.refreshToken, accessToken: t.accessToken });
          throw new Error("the updater's disk is full");
        },
        onHookError: (id, hook) => hookErrors.push(`${id} ${hook}`),
      });
      for (let i = 0; i < 2; i++) {
        offset += (TTL_S + 10) * 1000;
        const t = await manager.get("hooked");
        assert.equal((await oidc.introspect(t.accessToken)).active, true);
        assert.equal(seen.at(-1)?.accessToken, t.accessToken);
      }
      assert.equal(seen.length, 2);
      assert.notEqual(seen[0]!.refreshToken, seen[1]!.refreshToken, "rotated each time");
      assert.deepEqual(hookErrors, ["hooked onTokens", "hooked onTokens"]);
      const stored = (await ChannelRegistry.open(store, sealer())).openGrant((await store.getGrant("hooked"))!);
      assert.equal(stored.refreshToken, seen[1]!.refreshToken);
    } finally {
      await store.close();
    }
  });

  test("the store fails when the rotated grant must be written: the token is served, the grant kept and written later, one refresh", async () => {
    const store = await sqliteBackend().open();
    try {
      const registry = await registerAndLogin(store, "flaky");
      // The write under the issue lock and the one tried again before the lock goes both fail.
      let failSwaps = 2;
      const flaky = new Proxy(store, {
        get(target, prop, receiver) {
          if (prop === "swapGrant") {
            return async (...args: Parameters<Store["swapGrant"]>) => {
              if (failSwaps > 0) {
                failSwaps--;
                throw Object.assign(new Error("store down"), { code: "ERR_STORE_UNAVAILABLE" });
              }
              return target.swapGrant(...args);
            };
          }
          const v = Reflect.get(target, prop, receiver);
          return typeof v === "function" ? v.bind(target) : v;
        },
      }) as Store;
      const consumed = events("refresh_token.consumed");
      let offset = (TTL_S + 10) * 1000;
      const manager = new TokenManager({ registry: await ChannelRegistry.open(flaky, sealer()), now: () => Date.now() + offset });
      const t1 = await manager.get("flaky");
      assert.equal(failSwaps, 0, "the grant write failed");
      assert.equal((await oidc.introspect(t1.accessToken)).active, true);
      assert.equal(events("refresh_token.consumed") - consumed, 1);
      assert.equal((await store.getGrant("flaky"))?.version, 1, "not written yet");
      // Later, the store answers again: the kept grant is written (no second refresh from a spent token).
      offset += 1000;
      await manager.maintain("flaky");
      assert.equal((await store.getGrant("flaky"))?.version, 2, "written once the store answered");
      offset += (TTL_S + 10) * 1000;
      const t3 = await manager.get("flaky");
      assert.equal((await oidc.introspect(t3.accessToken)).active, true);
      assert.equal(events("refresh_token.consumed") - consumed, 2, "each refresh from the newest refresh token");
      const state = await store.getGrant("flaky");
      assert.equal(state?.status, "active");
      assert.equal((await oidc.introspect(registry.openGrant(state!).refreshToken)).active, true);
    } finally {
      await store.close();
    }
  });

  test("a refresh takes a permit of its provider's own upstream (issuePermit) right before it is sent; a refused permit sends nothing", async () => {
    const store = await sqliteBackend().open();
    try {
      const registry = await registerAndLogin(store, "permits");
      const asked: string[] = [];
      let refuse = true;
      const consumed = events("refresh_token.consumed");
      const manager = new TokenManager({
        registry, now: () => Date.now() + (TTL_S + 10) * 1000, backoffBaseMs: 0, backoffMaxMs: 0,
        issuePermit: async (upstream) => {
          asked.push(upstream);
          if (refuse) throw Object.assign(new Error("no permit"), { code: "ERR_ISSUE_RATE_WAIT", ambiguous: false });
        },
      });
      await assert.rejects(manager.get("permits"), { code: "ERR_TOKEN_UNAVAILABLE" });
      assert.deepEqual(asked, [`oauth:${new URL(oidc.issuer).origin}`]);
      assert.equal(events("refresh_token.consumed") - consumed, 0, "nothing reached the provider");
      refuse = false;
      const t = await manager.get("permits");
      assert.equal((await oidc.introspect(t.accessToken)).active, true);
      assert.equal(asked.length, 2);
      assert.equal(events("refresh_token.consumed") - consumed, 1);
    } finally {
      await store.close();
    }
  });
});
