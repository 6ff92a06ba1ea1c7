// Credential kinds through the engine: LINE stateless tokens beside v2.1, on every store.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createTestChannel, tokenLedger } from "../helpers/emulator.ts";
import { InvalidInputError } from "../../src/core/errors.ts";
import { NoLedgerError } from "../../src/tokens/errors.ts";
import { TokenManager } from "../../src/tokens/manager.ts";
import { lineTokenApi } from "../../src/tokens/line.ts";
import type { CredentialKind } from "../../src/tokens/kind.ts";
import { allBackends } from "./backends.ts";
import { tokenWorld, type TokenWorld } from "./setup.ts";

async function addStateless(w: TokenWorld, settings: Record<string, string> = {}): Promise<string> {
  const ch = await createTestChannel(w.emu.url);
  await w.registry.add({ channelId: ch.channelId, kid: ch.kid, privateKey: ch.privateJwk as never, channelSecret: ch.channelSecret, kind: "line-stateless", settings });
  return ch.channelId;
}

/** LINE's own answer for a token (GET /oauth2/v2.1/verify works for stateless tokens too). */
async function verifyAtLine(w: TokenWorld, accessToken: string): Promise<number> {
  const r = await fetch(`${w.emu.url}/oauth2/v2.1/verify?access_token=${encodeURIComponent(accessToken)}`);
  await r.body?.cancel();
  return r.status;
}

for (const backend of await allBackends()) describe(backend.name, { skip: backend.skip }, () => {
  test("a stateless channel: 200 concurrent get() → one v3 issuance, a token LINE accepts, a v2.1 channel beside it untouched", async () => {
    const w = await tokenWorld({ backend });
    const id = await addStateless(w);
    const m = w.manager();
    const tokens = await Promise.all(Array.from({ length: 200 }, () => m.get(id)));
    const ledger = await tokenLedger(w.emu.url, id);
    assert.deepEqual(ledger.map((t) => t.kind), ["stateless"]);
    for (const t of tokens) assert.equal(t.accessToken, ledger[0]!.access_token);
    assert.equal(await verifyAtLine(w, tokens[0]!.accessToken), 200);
    assert.ok(tokens[0]!.keyId.startsWith("stateless."));
    // About 15 minutes, as LINE said (not the 7-day v2.1 default).
    assert.equal(tokens[0]!.expiresAt - tokens[0]!.issuedAt, 900_000);
    assert.equal((await tokenLedger(w.emu.url, w.channel.channelId)).length, 0);
    const s = await m.status(id);
    assert.equal(s.kind, "line-stateless");
    assert.equal(s.budgetLimit, null);
    assert.equal((await m.status(w.channel.channelId)).budgetLimit, 30);
  });

  test("stateless by channel secret; another process shares the token; the refresh point brings exactly one new token", async () => {
    const w = await tokenWorld({ backend });
    const id = await addStateless(w, { auth: "secret" });
    const a = w.manager();
    const other = await w.reopen();
    const b = new TokenManager({ registry: other.registry, line: lineTokenApi({ baseUrl: w.emu.url, now: w.clock.now }), now: w.clock.now });
    const t1 = await a.get(id);
    assert.equal((await b.get(id)).accessToken, t1.accessToken);
    const refreshAt = await a.refreshAt(id);
    assert.ok(refreshAt !== null && refreshAt - t1.issuedAt >= 0.6 * 900_000 && refreshAt - t1.issuedAt <= 0.7 * 900_000);
    await w.clock.advance(Math.ceil((refreshAt - w.clock.now()) / 1000) + 1);
    const after = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).get(id)));
    const ledger = await tokenLedger(w.emu.url, id);
    assert.equal(ledger.length, 2);
    for (const t of after) assert.equal(t.accessToken, ledger[1]!.access_token);
    // Nothing to revoke at LINE: the superseded token is retired without a call, and still lapses on its own.
    const report = await a.maintainChannel(id);
    assert.equal(report.error, null);
    assert.deepEqual(report.revoked, [t1.keyId]);
    assert.equal(await verifyAtLine(w, t1.accessToken), 200);
    const revoke = await a.revoke(id, "all");
    assert.deepEqual(revoke.revoked, []);
    assert.equal(revoke.skipped[0]!.cause, "unrevocable");
    await assert.rejects(a.reconcile(id), NoLedgerError);
  });

  test("the kind's policy is validated once: a lifetime for stateless tokens is refused; an unknown kind is named", async () => {
    const w = await tokenWorld({ backend });
    const m = w.manager();
    assert.throws(() => m.policyFor("line-stateless", { lifetimeSeconds: 3600 }), (e: InvalidInputError) => e.code === "ERR_TOKEN_POLICY_INVALID");
    assert.equal(m.policyFor("line-stateless").lifetimeSeconds, 900);
    assert.equal(m.policyFor("line-v2.1").lifetimeSeconds, 7 * 86400);
    const ch = await createTestChannel(w.emu.url);
    await w.registry.add({ channelId: ch.channelId, kid: ch.kid, privateKey: ch.privateJwk as never, channelSecret: ch.channelSecret, kind: "acme-sso" });
    // Unknown to the engine (line-works is a kind now): named, with the known ones listed.
    await assert.rejects(m.get(ch.channelId), (e: InvalidInputError) => e.code === "ERR_KIND_UNKNOWN" && /acme-sso/.test(e.message) && /line-stateless/.test(e.message) && /line-works/.test(e.message));
  });
});

test("a kind registered with the manager is used for credentials of that kind (the port is all a kind needs)", async () => {
  const w = await tokenWorld();
  const calls: string[] = [];
  // A kind over the emulator's stateless endpoint, registered under its own name.
  const line = lineTokenApi({ baseUrl: w.emu.url, now: w.clock.now });
  const custom: CredentialKind = {
    name: "custom-stateless",
    description: "test kind",
    resolvePolicy: (o) => w.manager().policyFor("line-stateless", o),
    async obtain(channel) {
      calls.push(channel.channelId);
      const t = await line.issueStateless(channel, "secret");
      return { accessToken: t.accessToken, keyId: `custom.${calls.length}`, expiresIn: t.expiresIn };
    },
  };
  const ch = await createTestChannel(w.emu.url);
  await w.registry.add({ channelId: ch.channelId, kid: ch.kid, privateKey: ch.privateJwk as never, channelSecret: ch.channelSecret, kind: "custom-stateless" });
  const m = w.manager({ kinds: [custom] });
  assert.ok(m.kinds().includes("custom-stateless"));
  const t = await m.get(ch.channelId);
  assert.equal(t.keyId, "custom.1");
  assert.deepEqual(calls, [ch.channelId]);
  assert.equal(await verifyAtLine(w, t.accessToken), 200);
});
