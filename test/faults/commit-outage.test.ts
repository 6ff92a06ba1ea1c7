// The store is cut (a TCP proxy in front of Redis) after LINE issued a token and before kagiya
// wrote it: the token is kept in memory and handed out, not revoked and issued again. If another
// process issues meanwhile, it first records the kept token (the issue intent left in the store
// makes it reconcile), and once the store answers the kept token is revoked at LINE and its row
// marked so: every valid token at LINE is tracked in the store, the cap counts all of them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RedisStore } from "../../src/store/redis/store.ts";
import { ChannelRegistry } from "../../src/store/registry.ts";
import { MasterKey, Sealer } from "../../src/store/sealed.ts";
import { tokenLedger } from "../helpers/emulator.ts";
import { startTcpProxy } from "../helpers/tcp-proxy.ts";
import { REDIS_URL, randomNamespace, redisSkip } from "../store/services.ts";
import { tokenWorld, TEST_MASTER_KEY } from "../tokens/setup.ts";
import { gatedLine } from "./gated-line.ts";

test("a token kept while the store was cut: another process issuing meanwhile records it, and it is revoked once the store answers", { skip: await redisSkip() }, async () => {
  const redis = new URL(REDIS_URL);
  const proxy = await startTcpProxy(Number(redis.port || 6379), redis.hostname);
  const prefix = `${randomNamespace("commit-outage")}:`;
  const cut = await RedisStore.connect({ url: `redis://127.0.0.1:${proxy.port}`, prefix, commandTimeoutMs: 1000, connectTimeoutMs: 500 });
  const direct = await RedisStore.connect({ url: REDIS_URL, prefix });
  try {
    const w = await tokenWorld({ store: cut });
    const id = w.channel.channelId;
    const line = gatedLine(w);
    // A short issue lock: its release fails while the store is cut, and the other process waits it out.
    const a = w.manager({ line: line.api, lockTtlMs: 1000 });
    const b = w.manager({ registry: await ChannelRegistry.open(direct, new Sealer(MasterKey.parse(TEST_MASTER_KEY)), { now: w.clock.now }) });
    const first = await a.get(id);

    const held = line.hold();
    const issuing = a.issue(id);
    await held.answered;
    proxy.cut();
    held.release();
    const kept = await issuing;
    assert.deepEqual((await tokenLedger(w.emu.url, id)).map((r) => [r.key_id, r.state]), [[first.keyId, "valid"], [kept.keyId, "valid"]], "issued once, not revoked");
    assert.equal((await a.get(id)).keyId, kept.keyId, "the kept token is served");
    assert.equal((await direct.getCurrent(id)).token?.keyId, first.keyId, "not in the store yet");
    assert.notEqual(await direct.getIssueIntent(id), null, "the intent is left for others to see");

    // Another process issues while the store is cut for the first: it finds the kept token at LINE first.
    await w.clock.advance(1);
    const other = await b.issue(id);
    const rows = new Map((await direct.listTokens(id)).map((r) => [r.keyId, r]));
    assert.ok(rows.has(kept.keyId), "the kept token is recorded by the other process's reconcile");
    assert.equal((await direct.getCurrent(id)).token?.keyId, other.keyId);

    // The store answers again: the write finds a newer token, so the kept one is revoked and marked.
    proxy.restore();
    for (let i = 0; i < 200; i++) {
      // The client reconnects on its own schedule: wait until it answers.
      if (await cut.getCurrent(id).then(() => true, () => false)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const report = await a.maintainChannel(id);
    assert.equal(report.error, null);
    const ledger = new Map((await tokenLedger(w.emu.url, id)).map((r) => [r.key_id, r.state]));
    assert.equal(ledger.get(kept.keyId), "revoked");
    assert.equal(ledger.get(other.keyId), "valid");
    assert.equal(ledger.size, 3);
    assert.equal((await direct.listTokens(id)).find((r) => r.keyId === kept.keyId)?.state, "revoked");
    assert.equal((await direct.getCurrent(id)).token?.keyId, other.keyId);
    assert.equal(await direct.getIssueIntent(id), null);
    for (const [keyId, state] of ledger) if (state === "valid") assert.ok((await direct.listTokens(id)).some((r) => r.keyId === keyId && r.state !== "revoked"), `${keyId} valid at LINE and tracked`);
    assert.equal((await a.get(id)).keyId, other.keyId, "the first process no longer serves the revoked token");
  } finally {
    await direct.destroy().catch(() => {});
    await direct.close();
    await cut.close().catch(() => {});
    await proxy.close();
  }
});
