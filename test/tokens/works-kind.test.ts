// The `line-works` kind through the engine, over real HTTP against the emulator's LINE WORKS side,
// on every store: one token request per cold start and per refresh point (across processes too),
// 1 h and 24 h apps refreshed ahead of expiry, a dead token invalidated and minted again once.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { emulatorJson, injectFault, clearFaults } from "../helpers/emulator.ts";
import { createWorksApp, createWorksBot, postForm, worksAccessTokens, type TestWorksApp } from "../helpers/works-emulator.ts";
import { createWorksClient, classifyWorksFailure, WorksApiError } from "../../src/clients/works/index.ts";
import type { ChannelRegistry } from "../../src/store/registry.ts";
import { TokenUnavailableError } from "../../src/tokens/errors.ts";
import { allBackends } from "./backends.ts";
import { sha, storm } from "./processes.ts";
import { tokenWorld, type TokenWorld } from "./setup.ts";

/** Registers an emulator app as a `line-works` credential under a readable ID. */
async function addWorksApp(registry: ChannelRegistry, app: TestWorksApp, settings: Record<string, string> = {}, secrets: Record<string, string> = {}): Promise<string> {
  const id = `works-${randomBytes(4).toString("hex")}`;
  await registry.add({
    channelId: id,
    kind: "line-works",
    kid: "",
    privateKey: app.privateJwk as never,
    channelSecret: "",
    settings: { clientId: app.clientId, serviceAccount: app.serviceAccount, scope: "bot", refresh: "assertion", ...settings },
    secrets: { clientSecret: app.clientSecret, ...secrets },
  });
  return id;
}

/** A token world with one LINE WORKS app (emulator settings `appSettings`) registered beside its LINE channel. */
async function worksWorld(options: Parameters<typeof tokenWorld>[0], appSettings: Record<string, unknown> = {}): Promise<TokenWorld & { app: TestWorksApp; id: string }> {
  const w = await tokenWorld(options);
  const app = await createWorksApp(w.emu.url, appSettings);
  const id = await addWorksApp(w.registry, app);
  return Object.assign(w, { app, id });
}

for (const backend of await allBackends()) describe(backend.name, { skip: backend.skip }, () => {
  test("a cold LINE WORKS app: 200 concurrent get() → one token request; the token is LINE WORKS' own and lives as long as it said", async () => {
    const w = await worksWorld({ backend }, { tokenLifetime: 3600 });
    const m = w.manager({ worksAuthBase: w.emu.url });
    const tokens = await Promise.all(Array.from({ length: 200 }, () => m.get(w.id)));
    const ledger = await worksAccessTokens(w.emu.url, w.app.clientId);
    assert.equal(ledger.length, 1, "exactly one token request");
    assert.equal(ledger[0]!.grant, "jwt-bearer");
    for (const t of tokens) assert.equal(t.accessToken, ledger[0]!.token);
    // expires_in came as the string "3600": the engine took the server's lifetime, not the policy's.
    assert.equal(tokens[0]!.expiresAt - tokens[0]!.issuedAt, 3_600_000);
    assert.ok(tokens[0]!.keyId.startsWith("works."));
    const s = await m.status(w.id);
    assert.equal(s.kind, "line-works");
    assert.equal(s.budgetLimit, null);
    // The LINE channel of the same world was left alone.
    assert.equal((await m.status(w.channel.channelId)).tokens.length, 0);
  });

  for (const lifetime of [3600, 86400]) {
    test(`a ${lifetime / 3600} h app is refreshed at 60-70 % of its life, once, while the old token is still valid`, async () => {
      const w = await worksWorld({ backend }, { tokenLifetime: lifetime });
      const m = w.manager({ worksAuthBase: w.emu.url });
      const other = await w.reopen();
      const m2 = w.manager({ registry: other.registry, worksAuthBase: w.emu.url });
      const t1 = await m.get(w.id);
      assert.equal(t1.expiresAt - t1.issuedAt, lifetime * 1000);
      const refreshAt = await m.refreshAt(w.id);
      assert.ok(refreshAt !== null);
      const fraction = (refreshAt - t1.issuedAt) / (lifetime * 1000);
      assert.ok(fraction >= 0.6 && fraction <= 0.7, `refresh at ${fraction} of the lifetime`);
      assert.ok(t1.expiresAt - refreshAt >= 300_000, "at least 5 minutes before expiry");
      // Just before the refresh point: the same token, no request.
      await w.clock.advance(Math.floor((refreshAt - w.clock.now()) / 1000) - 5);
      assert.equal((await m2.get(w.id)).accessToken, t1.accessToken);
      assert.equal((await worksAccessTokens(w.emu.url, w.app.clientId)).length, 1);
      // Past it: one new token for both managers, issued while the old one still had time left.
      await w.clock.advance(10);
      const after = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? m : m2).get(w.id)));
      const ledger = await worksAccessTokens(w.emu.url, w.app.clientId);
      assert.equal(ledger.length, 2, "exactly one refresh");
      for (const t of after) assert.equal(t.accessToken, ledger[1]!.token);
      assert.ok(ledger[1]!.issuedAt < ledger[0]!.expiresAt);
      assert.equal(ledger[0]!.state, "valid");
    });
  }

  test("two processes at the refresh point of a LINE WORKS app: one token request for both (and one when cold)", async () => {
    const w = await worksWorld({ backend }, { tokenLifetime: 3600 });
    const env = { KAGIYA_WORKS_AUTH_BASE: w.emu.url, KAGIYA_TEST_CHANNEL: w.id, KAGIYA_TEST_COUNT: "100" };
    const cold = await storm(w, backend.spec, env, 2);
    let ledger = await worksAccessTokens(w.emu.url, w.app.clientId);
    assert.equal(ledger.length, 1, "one issuance when cold");
    for (const r of cold) assert.deepEqual(r.out, { hashes: { [sha(ledger[0]!.token)]: 100 }, failures: [] }, r.stderr);
    const cur = await w.store.getCurrent(w.id);
    await w.clock.advance(Math.ceil((cur.token!.refreshAt - w.clock.now()) / 1000) + 1);
    const refresh = await storm(w, backend.spec, env, 2);
    ledger = await worksAccessTokens(w.emu.url, w.app.clientId);
    assert.equal(ledger.length, 2, "one issuance at the refresh point");
    for (const r of refresh) assert.deepEqual(r.out, { hashes: { [sha(ledger[1]!.token)]: 100 }, failures: [] }, r.stderr);
  });

  for (const unauthorizedStatus of [401, 403]) {
    test(`the bot API refuses a dead token (${unauthorizedStatus} UNAUTHORIZED): invalidate → one re-mint for every caller, and the message goes through`, async () => {
      const w = await worksWorld({ backend }, { unauthorizedStatus });
      const m = w.manager({ worksAuthBase: w.emu.url });
      const bot = await createWorksBot(w.emu.url);
      const works = createWorksClient({ authBaseUrl: w.emu.url, apiBaseUrl: w.emu.url, retry: { maxAttempts: 1 } });
      const t1 = await m.get(w.id);
      // LINE WORKS kills the token behind kagiya's back (an admin, a console reset).
      assert.equal((await postForm(w.emu.url, "/oauth2/v2.0/revoke", { client_id: w.app.clientId, client_secret: w.app.clientSecret, token: t1.accessToken })).status, 200);
      const message = { botId: bot.botId, userId: "user-1", content: { type: "text", text: "hello" } } as const;
      const refused = await works.sendBotMessage(t1.accessToken, message).then(() => null, (e: unknown) => e);
      assert.ok(refused instanceof WorksApiError && refused.status === unauthorizedStatus, String(refused));
      assert.equal(classifyWorksFailure(refused).unauthorized, true);
      // Many callers see the refusal at once; one new token comes of it.
      const again = await Promise.all(Array.from({ length: 20 }, async () => {
        await m.invalidate(w.id, t1.keyId);
        return m.get(w.id);
      }));
      const ledger = await worksAccessTokens(w.emu.url, w.app.clientId);
      assert.equal(ledger.length, 2, "one re-mint");
      for (const t of again) assert.equal(t.accessToken, ledger[1]!.token);
      await works.sendBotMessage(again[0]!.accessToken, message);
      const sent = await emulatorJson(w.emu.url, "GET", `/__emulator/works/messages?botId=${bot.botId}`);
      assert.equal(sent.body.messages.length, 1);
    });
  }

  test("revoke: the app's tokens are revoked at LINE WORKS", async () => {
    const w = await worksWorld({ backend });
    const m = w.manager({ worksAuthBase: w.emu.url });
    const t = await m.get(w.id);
    const report = await m.revoke(w.id, "all");
    assert.deepEqual(report.revoked, [t.keyId]);
    const ledger = await worksAccessTokens(w.emu.url, w.app.clientId);
    assert.equal(ledger[0]!.state, "revoked");
  });
});

test("failures are the engine's: a wrong Client Secret is named (not retried at once); a 429 is waited out; no secret in any message", async () => {
  const w = await tokenWorld();
  const app = await createWorksApp(w.emu.url);
  const id = await addWorksApp(w.registry, { ...app, clientSecret: "wrong-secret-value-123" });
  const m = w.manager({ worksAuthBase: w.emu.url });
  const e = await m.get(id).then(() => null, (x: unknown) => x);
  assert.ok(e instanceof Error);
  const s = await m.status(id);
  assert.equal(s.lastError?.code, "ERR_WORKS_INVALID_CLIENT");
  assert.ok(!JSON.stringify(s).includes("wrong-secret-value-123") && !String((e as Error).message).includes("wrong-secret-value-123"));
  // Backing off: the next get() does not ask LINE WORKS again at once.
  await assert.rejects(m.get(id), TokenUnavailableError);
  assert.equal((await worksAccessTokens(w.emu.url, app.clientId)).length, 0);

  const ok = await addWorksApp(w.registry, app);
  await injectFault(w.emu.url, { method: "POST", path: "/oauth2/v2.0/token", status: 429, retryAfter: 120, count: 1 });
  try {
    await assert.rejects(m.get(ok), TokenUnavailableError);
    const plan = await m.plan(ok);
    assert.ok(plan.retryAt !== null && plan.retryAt - w.clock.now() >= 119_000, `LINE WORKS asked for 120 s; retry at +${plan.retryAt === null ? null : plan.retryAt - w.clock.now()} ms`);
  } finally {
    await clearFaults(w.emu.url);
  }
  await w.clock.advance(121);
  assert.equal((await m.get(ok)).accessToken, (await worksAccessTokens(w.emu.url, app.clientId))[0]!.token);
});

test("an app stored with an unknown refresh policy is refused without a request; the policy's lifetime is LINE WORKS'", async () => {
  const w = await tokenWorld();
  const app = await createWorksApp(w.emu.url);
  const id = await addWorksApp(w.registry, app, { refresh: "sometimes" });
  const m = w.manager({ worksAuthBase: w.emu.url });
  await assert.rejects(m.get(id), /settings\.refresh must be "assertion" or "refresh-token"/);
  assert.equal((await worksAccessTokens(w.emu.url, app.clientId)).length, 0);
  assert.throws(() => m.policyFor("line-works", { lifetimeSeconds: 3600 }), /cannot be set for LINE WORKS/);
  assert.equal(m.policyFor("line-works").refreshMin, 0.6);
});
