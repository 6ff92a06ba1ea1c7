// Many channels, three brokers on one store (Redis and PostgreSQL), on the emulator's clock:
// start-up issues each first token once across the instances at no more than --max-issue-rate
// per emulated second, every token is refreshed exactly once per cycle over two cycles, and an idle broker makes
// no store calls between due times. The refreshes are shared out between the instances.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { RedisStore } from "../../src/store/redis/store.ts";
import { PostgresStore } from "../../src/store/postgres/store.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { ChannelRegistry } from "../../src/store/registry.ts";
import { MasterKey, Sealer, generateMasterKeyText } from "../../src/store/sealed.ts";
import type { Store } from "../../src/store/types.ts";
import { startBroker, type RunningBroker } from "../../src/server/broker.ts";
import { startTestEmulator, tokenLedgers, type LedgerRow } from "../helpers/emulator.ts";
import { TestClock } from "../tokens/clock.ts";
import { busiestSecond, countingStore, registerChannels } from "./scale-fixture.ts";
import { DATABASE_URL, REDIS_URL, postgresSkip, randomNamespace, redisSkip } from "../store/services.ts";

const CHANNELS = 200;
const RATE = 40;
const DAY_S = 86_400;
const quiet = () => new Writable({ write: (_c, _e, cb) => cb() });

async function until(what: string, f: () => Promise<boolean>, tries = 2400): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}

function ledgers(url: string, ids: string[]): Promise<Map<string, LedgerRow[]>> {
  return tokenLedgers(url, ids);
}

const backends: Array<{ name: string; skip: () => Promise<string | false>; connect: (ns: string) => Promise<Store & { destroy(): Promise<void> }> }> = [
  { name: "Redis", skip: redisSkip, connect: (ns) => RedisStore.connect({ url: REDIS_URL, prefix: `${ns}:` }) },
  { name: "PostgreSQL", skip: postgresSkip, connect: (ns) => PostgresStore.connect({ url: DATABASE_URL, schema: ns, poolSize: 4 }) },
];

for (const backend of backends) {
  const skip = await backend.skip();
  describe(`${CHANNELS} channels, three brokers on one ${backend.name} store`, { skip }, () => {
    test("first tokens issued once each at most --max-issue-rate per second; each refreshed exactly once per cycle over two cycles; a restart only reads", async () => {
      const emu = await startTestEmulator();
      const clock = new TestClock(emu.url);
      const ns = randomNamespace("scale");
      const masterKey = generateMasterKeyText();
      const stores: Array<Store & { destroy(): Promise<void> }> = [];
      const brokers: RunningBroker[] = [];
      const start = async () => {
        const store = await backend.connect(ns);
        await store.migrate();
        stores.push(store);
        const registry = await ChannelRegistry.open(store, new Sealer(MasterKey.parse(masterKey)));
        return { registry, store };
      };
      const launch = async (registry: ChannelRegistry) => {
        brokers.push(await startBroker({
          registry, lineApiBase: emu.url, now: clock.now, bot: false, maxIssueRate: RATE, log: { level: "warn", destination: quiet() },
          scheduler: { tickMs: 20, gapMs: 0, concurrency: 4, channelListMs: 3600_000, reconcileMs: 10_000 * DAY_S * 1000, maxIdleMs: 100 * DAY_S * 1000 },
        }));
      };
      try {
        const first = await start();
        const ids = await registerChannels(emu.url, first.registry, CHANNELS);
        await launch(first.registry);
        for (let i = 0; i < 2; i++) await launch((await start()).registry);

        // Warm-up: every channel gets one first token, shared by the three instances.
        await until("every first token", async () => [...(await ledgers(emu.url, ids)).values()].every((rows) => rows.length >= 1));
        let all = await ledgers(emu.url, ids);
        for (const [id, rows] of all) assert.equal(rows.length, 1, `${id} issued ${rows.length} times at start-up`);
        assert.ok(busiestSecond(all) <= RATE, `${busiestSecond(all)} issuances in one second (cap ${RATE})`);

        // A restart of all three reads the stored tokens and issues nothing.
        for (const b of brokers.splice(0)) await b.close();
        for (const s of stores.slice(1)) await s.close();
        stores.splice(1);
        await launch(first.registry);
        for (let i = 0; i < 2; i++) await launch((await start()).registry);
        await until("every channel planned", async () => brokers.every((b) => b.scheduler!.size === CHANNELS));
        await new Promise((r) => setTimeout(r, 500));
        assert.equal([...(await ledgers(emu.url, ids)).values()].reduce((n, rows) => n + rows.length, 0), CHANNELS, "a restart issued tokens");

        // Two refresh cycles: each time the emulated clock walks across the refresh window (70-80 % of
        // the lifetime) of the tokens then valid.
        for (let cycle = 1; cycle <= 2; cycle++) {
          const window = await Promise.all(ids.map(async (id) => (await brokers[0]!.manager.status(id)).tokens.find((t) => t.state === "valid")!.refreshAt));
          const last = Math.max(...window);
          await clock.advance(Math.floor((Math.min(...window) - clock.now()) / 1000) - 60);
          while (clock.now() < last + 60_000) {
            await clock.advance(6 * 3600);
            const passed = window.filter((at) => at <= clock.now()).length;
            await until(`${passed} refreshes in cycle ${cycle}`, async () => [...(await ledgers(emu.url, ids)).values()].filter((rows) => rows.length >= cycle + 1).length >= passed);
          }
          // Past every grace: the superseded tokens are revoked, each channel was issued exactly once more.
          await clock.advance(3600);
          await until(`revocations in cycle ${cycle}`, async () => [...(await ledgers(emu.url, ids)).values()].every((rows) => rows.filter((r) => r.state === "revoked").length === cycle));
          all = await ledgers(emu.url, ids);
          for (const [id, rows] of all) {
            assert.equal(rows.length, cycle + 1, `${id} issued ${rows.length} times by the end of cycle ${cycle}`);
            assert.deepEqual(rows.map((r) => r.state).filter((s) => s === "valid"), ["valid"], id);
          }
          assert.ok(busiestSecond(all) <= RATE, `${busiestSecond(all)} issuances in one second (cap ${RATE})`);
          // The refreshes were shared out between the instances, not all done by one.
          const refreshes = await Promise.all(brokers.map(async (b) => (await b.metrics.issuances.get()).values.filter((v) => v.labels.reason === "refresh").reduce((n, v) => n + v.value, 0)));
          assert.equal(refreshes.reduce((a, b) => a + b, 0), cycle * CHANNELS, String(refreshes));
          for (const n of refreshes) assert.ok(n >= (cycle * CHANNELS) / 10, `refreshes per instance: ${refreshes}`);
        }
      } finally {
        for (const b of brokers) await b.close();
        await stores[0]?.destroy().catch(() => {});
        for (const s of stores) await s.close().catch(() => {});
        await emu.close();
      }
    });
  });
}

test("an idle broker makes no store calls between due times, whatever the number of channels", async () => {
  const emu = await startTestEmulator();
  const clock = new TestClock(emu.url);
  const counting = countingStore(new MemoryStore());
  await counting.store.migrate();
  const registry = await ChannelRegistry.open(counting.store, new Sealer(MasterKey.parse(generateMasterKeyText())));
  const ids = await registerChannels(emu.url, registry, 50);
  const broker = await startBroker({
    registry, lineApiBase: emu.url, now: clock.now, bot: false, maxIssueRate: 100, log: { level: "warn", destination: quiet() },
    // Reconciles are due times too: put them beyond the walk.
    scheduler: { tickMs: 20, gapMs: 0, concurrency: 4, channelListMs: 30 * DAY_S * 1000, reconcileMs: 10_000 * DAY_S * 1000, maxIdleMs: 100 * DAY_S * 1000 },
  });
  try {
    await until("warm-up", async () => [...(await ledgers(emu.url, ids)).values()].every((rows) => rows.length === 1));
    const refreshAt = await Promise.all(ids.map(async (id) => (await broker.manager.status(id)).tokens[0]!.refreshAt));
    // Let the last maintenance calls finish (on a loaded machine they can trail the ledger by a
    // while): wait for half a second without a scheduler store call, then count from zero.
    const schedulerCalls = () => [...counting.calls].filter(([method]) => method !== "claimEvents" && method !== "pruneEvents").length;
    for (let quiet = false, tries = 0; !quiet && tries < 40; tries++) {
      counting.reset();
      await new Promise((r) => setTimeout(r, 500));
      quiet = schedulerCalls() === 0;
    }
    counting.reset();
    // Up to an hour before the first refresh point in twenty steps, each given many scheduler wake-ups: nothing is due.
    const step = Math.floor((Math.min(...refreshAt) - clock.now() - 3600_000) / 20_000);
    assert.ok(step > 3600, `refresh points ${step * 20} s away`);
    for (let i = 0; i < 20; i++) {
      await clock.advance(step);
      await new Promise((r) => setTimeout(r, 60));
    }
    assert.ok(clock.now() < Math.min(...refreshAt), "the walk stayed before the first refresh point");
    // The webhook inbox looks for other instances' left events on a timer of its own: a few calls
    // per instance whatever the number of channels, so they are not the scheduler's to avoid.
    assert.equal(schedulerCalls(), 0, `store calls while idle: ${JSON.stringify([...counting.calls])}`);
    // At the first refresh point the scheduler wakes and reads the store again.
    await clock.advance(Math.ceil((Math.min(...refreshAt) - clock.now()) / 1000) + 1);
    await until("a refresh", async () => [...(await ledgers(emu.url, ids)).values()].some((rows) => rows.length === 2));
    assert.ok(counting.total() > 0);
  } finally {
    await broker.close();
    await counting.store.close();
    await emu.close();
  }
});
