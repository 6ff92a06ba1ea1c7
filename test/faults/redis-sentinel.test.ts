// Redis behind Sentinel, failing over under kagiya: a private master + replica + two sentinels
// (never the shared Redis on 6379). A failover while a refresh waits on LINE's answer leads to one
// issuance, committed on the new master; another process keeps reading the valid token
// meanwhile; a killed master is replaced by its replica and kagiya follows it.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { KagiyaError } from "../../src/core/errors.ts";
import { openStore } from "../../src/store/open.ts";
import type { RedisStore } from "../../src/store/redis/store.ts";
import { lineTokenApi } from "../../src/tokens/line.ts";
import { TokenManager } from "../../src/tokens/manager.ts";
import { tokenLedger } from "../helpers/emulator.ts";
import { randomNamespace } from "../store/services.ts";
import type { Backend } from "../tokens/backends.ts";
import { tokenWorld } from "../tokens/setup.ts";
import { countingStore } from "./counting.ts";
import { gatedLine } from "./gated-line.ts";
import { sentinelSkip, startSentinelCluster, type SentinelCluster } from "./services.ts";

const skip = sentinelSkip();

/** Reads a manager in a loop until stopped: every answer's key ID, and every failure. */
function readLoop(m: TokenManager, id: string): { stop(): Promise<{ keyIds: string[]; failures: unknown[] }> } {
  const keyIds: string[] = [];
  const failures: unknown[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      try {
        keyIds.push((await m.get(id)).keyId);
      } catch (error) {
        failures.push(error);
      }
      await sleep(10);
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return { keyIds, failures };
    },
  };
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** True once the store's connection is ready and to the data node on `port`. */
async function connectedTo(store: RedisStore, port: number): Promise<boolean> {
  await store.ping();
  return store.client.status === "ready" && store.client.stream?.remotePort === port;
}

describe("Redis behind Sentinel", { skip }, () => {
  let cluster: SentinelCluster;
  let backend: Backend;
  before(async () => {
    cluster = await startSentinelCluster({ sentinels: 2 });
    const spec = `${cluster.spec}?prefix=${randomNamespace("sentinel")}:`;
    backend = { name: "redis", skip: false, spec, open: () => openStore(spec) };
  });
  // The stores of the token worlds close in setup.ts's after(), registered first, so run first.
  after(() => cluster?.close());

  test("redis+sentinel:// opens on the master the sentinels name; an unknown master name is ERR_STORE_UNAVAILABLE", async () => {
    const store = (await backend.open()) as RedisStore;
    try {
      assert.equal(store.client.stream?.remotePort, await cluster.masterPort());
      await store.setMeta("probe", "1");
      assert.equal(await cluster.node(await cluster.masterPort()).hget(`${store.prefix}meta`, "probe"), "1");
    } finally {
      await store.close();
    }
    const wrong = `redis+sentinel://127.0.0.1:${cluster.sentinelPorts[0]}/nosuchmaster`;
    await assert.rejects(openStore(wrong, {}, { redis: { connectTimeoutMs: 500 } }), (e: unknown) => e instanceof KagiyaError && e.code === "ERR_STORE_UNAVAILABLE" && /do they monitor "nosuchmaster"/.test(e.message));
  });

  test("a failover while a refresh waits on LINE: one issuance, committed on the new master; another process keeps reading the valid token", async () => {
    const w = await tokenWorld({ backend });
    const id = w.channel.channelId;
    const line = gatedLine(w);
    const a = w.manager({ line: line.api });
    const other = await w.reopen();
    const b = new TokenManager({ registry: other.registry, line: lineTokenApi({ baseUrl: w.emu.url, now: w.clock.now }), now: w.clock.now, refreshWaitMs: 50 });
    const first = await a.get(id);
    assert.equal((await b.get(id)).keyId, first.keyId);
    const oldMaster = await cluster.masterPort();

    // Past the refresh point, A refreshes; LINE answers, and the answer is held while the master changes.
    await w.clock.advance(Math.ceil(((await a.refreshAt(id))! - w.clock.now()) / 1000) + 1);
    const held = line.hold();
    const refreshing = a.get(id);
    await held.answered;
    assert.equal((await tokenLedger(w.emu.url, id)).length, 2, "LINE issued the refresh's token");

    const reads = readLoop(b, id);
    await cluster.waitInSync();
    const newMaster = await cluster.failover();
    assert.notEqual(newMaster, oldMaster);
    await until("A's store to follow the failover", () => connectedTo(w.store as RedisStore, newMaster));
    held.release();
    const refreshed = await refreshing;
    const { keyIds, failures } = await reads.stop();

    assert.notEqual(refreshed.keyId, first.keyId);
    const ledger = await tokenLedger(w.emu.url, id);
    assert.deepEqual(ledger.map((r) => r.key_id), [first.keyId, refreshed.keyId], "one issuance for the refresh, none after the failover");
    assert.deepEqual(ledger.map((r) => r.state), ["valid", "valid"], "nothing revoked: the new token was stored");
    assert.deepEqual(failures, [], "no read failed during the failover");
    assert.ok(keyIds.length > 0);
    assert.deepEqual(keyIds.filter((k) => k !== first.keyId && k !== refreshed.keyId), []);
    assert.equal(keyIds[0], first.keyId, "the valid token was served while the refresh waited");

    // The new master holds the committed token (the sentinels demote the old one on their next
    // 10 s round; not waited for here).
    const prefix = (w.store as RedisStore).prefix;
    assert.equal(await cluster.node(newMaster).hget(`${prefix}tok:${id.length}:${id}:${refreshed.keyId}`, "keyId"), refreshed.keyId);
    const { token } = await w.store.getCurrent(id);
    assert.equal(token?.keyId, refreshed.keyId);
    // B moves to the new token once its short wait is over.
    await w.clock.advance(10);
    assert.equal((await b.get(id)).keyId, refreshed.keyId);
    assert.equal((await tokenLedger(w.emu.url, id)).length, 2);
  });

  test("the master killed: reads are served from memory while writes fail with ERR_STORE_UNAVAILABLE, then kagiya follows the promoted replica", async () => {
    // Failures of the store, counted: the reads below must meet a store that fails.
    const opened = await backend.open();
    const { store, failures } = countingStore(opened);
    const w = await tokenWorld({ store });
    const id = w.channel.channelId;
    const a = w.manager();
    const first = await a.get(id);
    const victim = await cluster.masterPort();
    await cluster.waitInSync();
    // The sentinels wait (a minute) before judging the master down, so the outage lasts as long as the reads below.
    await cluster.setDownAfter(60_000);
    cluster.kill(victim);

    let storeFailure: unknown;
    await until("the store to notice the kill", async () => {
      try {
        await store.setMeta("probe", "x");
        return false;
      } catch (error) {
        storeFailure = error;
        return true;
      }
    });
    assert.ok(storeFailure instanceof KagiyaError && storeFailure.code === "ERR_STORE_UNAVAILABLE", String(storeFailure));
    assert.ok(!String((storeFailure as Error).message).includes("\n"));
    // The token in memory keeps being served, also past the cache's 5 s re-check (then the store
    // is asked, fails, and the token is kept).
    const failedBefore = failures();
    for (let i = 0; i < 3; i++) {
      await w.clock.advance(6);
      assert.equal((await a.get(id)).keyId, first.keyId);
    }
    assert.ok(failures() > failedBefore, "the reads met the failing store");
    await cluster.setDownAfter(500);

    // The sentinels promote the replica (after their down-after period); the client follows.
    await until("the sentinels to promote the replica", async () => (await cluster.masterPort()) !== victim);
    const promoted = await cluster.masterPort();
    // (ioredis alone gives up here for good: its failover detector drops the connection while it
    // reconnects; the store connects again.)
    await until("kagiya's store to reach the new master", () => connectedTo(opened as RedisStore, promoted)).catch(async (e: Error) => {
      const roles = await Promise.all(cluster.dataPorts.map(async (p) => [p, await cluster.node(p).call("ROLE").catch(String)]));
      throw new Error(`${e.message}: ${JSON.stringify({ promoted, victim, client: (opened as RedisStore).client.status, roles })}`);
    });
    assert.equal((await w.store.getCurrent(id)).token?.keyId, first.keyId, "the token written before the kill survived it");

    // The next refresh runs on the new master: one issuance.
    await w.clock.advance(Math.ceil(((await a.refreshAt(id))! - w.clock.now()) / 1000) + 1);
    const next = await a.get(id);
    assert.notEqual(next.keyId, first.keyId);
    assert.deepEqual((await tokenLedger(w.emu.url, id)).map((r) => r.key_id), [first.keyId, next.keyId]);
  });
});
