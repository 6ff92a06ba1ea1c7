// --max-issue-rate per upstream: LINE WORKS issuances take permits of their own limit (a broker
// warming many LINE WORKS apps issues at most the cap per emulated second), and one upstream's
// spent second does not hold back another's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { MemoryStore } from "../../src/store/memory.ts";
import { ChannelRegistry } from "../../src/store/registry.ts";
import { MasterKey, Sealer, generateMasterKeyText } from "../../src/store/sealed.ts";
import { startBroker } from "../../src/server/broker.ts";
import { IssuePermits } from "../../src/server/issue-rate.ts";
import { startTestEmulator } from "../helpers/emulator.ts";
import { createWorksApp, registerWorksApp, worksAccessTokens } from "../helpers/works-emulator.ts";
import { TestClock } from "../tokens/clock.ts";

const quiet = () => new Writable({ write: (_c, _e, cb) => cb() });

test("each upstream has its own permits: LINE's spent second leaves LINE WORKS' and an OAuth provider's", async () => {
  const now = () => 1_800_000_000_900;
  const permits = new IssuePermits(new MemoryStore({ now }), { perSecond: 2, now });
  const takes = async (upstream: string) => {
    let n = 0;
    for (let i = 0; i < 5; i++) if (await permits.limiter(upstream).tryTake()) n++;
    return n;
  };
  assert.equal(await takes("line"), 2);
  assert.equal(await takes("line-works"), 2);
  assert.equal(await takes("oauth:https://auth.example.com"), 2);
  assert.equal(await takes("oauth:https://other.example.com"), 2);
  assert.equal(await takes("line-works"), 0);
});

test("a broker warming 8 LINE WORKS apps issues at most --max-issue-rate of their tokens per emulated second", async () => {
  const RATE = 1;
  const emu = await startTestEmulator();
  const clock = new TestClock(emu.url);
  const store = new MemoryStore();
  await store.migrate();
  const registry = await ChannelRegistry.open(store, new Sealer(MasterKey.parse(generateMasterKeyText())));
  const apps = [];
  for (let i = 0; i < 8; i++) {
    const app = await createWorksApp(emu.url, { tokenLifetime: 3600 });
    await registerWorksApp(registry as never, app);
    apps.push(app);
  }
  const broker = await startBroker({
    registry, lineApiBase: emu.url, worksAuthBase: emu.url, now: clock.now, bot: false, maxIssueRate: RATE, log: { level: "warn", destination: quiet() },
    scheduler: { tickMs: 20, gapMs: 0, concurrency: 8 },
  });
  try {
    let ledgers: Array<Array<{ issuedAt: number }>> = [];
    for (let tries = 0; tries < 1200; tries++) {
      ledgers = await Promise.all(apps.map((a) => worksAccessTokens(emu.url, a.clientId)));
      if (ledgers.every((l) => l.length >= 1)) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(ledgers.every((l) => l.length === 1), "every app got one first token");
    const perSecond = new Map<number, number>();
    for (const l of ledgers) for (const t of l) perSecond.set(Math.floor(t.issuedAt / 1000), (perSecond.get(Math.floor(t.issuedAt / 1000)) ?? 0) + 1);
    assert.ok(Math.max(...perSecond.values()) <= RATE, `LINE WORKS issuances per second: ${JSON.stringify([...perSecond.values()])}`);
  } finally {
    await broker.close();
    await store.close();
    await emu.close();
  }
});
