// Many credentials on one broker and on three (issue 16), on Redis, PostgreSQL and SQLite, against the
// emulator in a child process (its memory is not counted). Per backend and size:
//   three brokers, cold (sizes up to BENCH_THREE_MAX): first tokens issued across the three at the
//     cap (--max-issue-rate BENCH_CAP): issuances per emulated second (mean, busiest), first tokens
//     per instance, duplicates; then the clock past every refresh point: refreshes per instance,
//     duplicates (must be 0). Larger sizes get valid tokens written to the store instead.
//   one broker restarted on those valid tokens: start to ready (every channel planned from a bulk
//     read; /readyz 200) and the issuances it made (must be 0); every credential read once; heap
//     and RSS per credential; idle CPU and store operations per minute over BENCH_IDLE_S;
//   token API requests/s and p99 (a loader process, 50 connections, BENCH_LOAD_S, each request a
//     random credential) against the same API with 1 credential on the same backend (the peer, run
//     first on each backend).
//   node bench/scale.bench.ts [redis|postgres|sqlite ...]
//   BENCH_SIZES (default 100,1000,10000), BENCH_IDLE_S (20), BENCH_LOAD_S (5), BENCH_CAP (50),
//   BENCH_THREE_MAX (1000); REDIS_URL, DATABASE_URL.
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { openStore } from "../src/store/open.ts";
import { ChannelRegistry } from "../src/store/registry.ts";
import { generateMasterKeyText, MasterKey, Sealer } from "../src/store/sealed.ts";
import type { Store } from "../src/store/types.ts";
import { startBroker, type RunningBroker } from "../src/server/broker.ts";
import { createApiKey } from "../src/server/apikeys.ts";
import { advanceClock, tokenLedgers, type LedgerRow } from "../test/helpers/emulator.ts";
import { busiestSecond, countingStore, registerChannels } from "../test/server/scale-fixture.ts";
import { fmtCpu, rawSocketLoad, runPinned, type LoadResult } from "./lib/loader.ts";

const SELF = import.meta.filename;
const IDLE_S = Number(process.env["BENCH_IDLE_S"] ?? 20);
const LOAD_S = Number(process.env["BENCH_LOAD_S"] ?? 5);
const CAP = Number(process.env["BENCH_CAP"] ?? 50);
const THREE_MAX = Number(process.env["BENCH_THREE_MAX"] ?? 1000);
const SIZES = (process.env["BENCH_SIZES"] ?? "100,1000,10000").split(",").map(Number);
const DAY_MS = 86_400_000;
const ns = `kagiya_bench_scale_${randomBytes(4).toString("hex")}`;
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

type Opened = Store & { destroy?(): Promise<void> };
const backends: Array<{ name: string; open: (run: string) => Promise<Opened> }> = [
  { name: "redis", open: async (run) => (await import("../src/store/redis/store.ts")).RedisStore.connect({ url: process.env["REDIS_URL"] || "redis://127.0.0.1:6379", prefix: `${ns}_${run}:` }) },
  { name: "postgres", open: async (run) => (await import("../src/store/postgres/store.ts")).PostgresStore.connect({ url: process.env["DATABASE_URL"] || "postgres://postgres@127.0.0.1:5432/test", schema: `${ns}_${run}` }) },
  // The embedded default: one file per run, opened once per broker (as processes on one host share it).
  { name: "sqlite", open: async (run) => {
    const file = join(tmpdir(), `${ns}_${run}.db`);
    const store: Opened = await openStore(`sqlite:${file}`);
    store.destroy = async () => {
      for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true });
    };
    return store;
  } },
];

const quiet = () => new Writable({ write: (_c, _e, cb) => cb() });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The emulator in its own process; its URL. */
async function startChildEmulator(): Promise<{ url: string; stop: () => void }> {
  const index = fileURLToPath(new URL("../src/emulator/index.ts", import.meta.url));
  const child = spawn(process.execPath, ["--input-type=module", "-e", `const m = await import(${JSON.stringify(index)}); const e = await m.startEmulator(); console.log(e.url);`], { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.once("data", (d: Buffer) => resolve(d.toString().trim()));
    child.once("exit", (code) => reject(new Error(`emulator exited ${code}`)));
  });
  return { url, stop: () => child.kill() };
}

/** Token API load from a loader process on the other core: 50 connections, each request a credential in turn. */
async function tokenLoad(broker: RunningBroker, ids: string[], key: string): Promise<LoadResult> {
  const order = [...ids].sort(() => Math.random() - 0.5).slice(0, 5000);
  const out = await runPinned(1, [process.execPath, SELF, "--load", JSON.stringify({ port: broker.port, ids: order, key }), String(LOAD_S)]);
  return JSON.parse(out) as LoadResult;
}

async function load(target: { port: number; ids: string[]; key: string }, seconds: number): Promise<LoadResult> {
  const payloads = target.ids.map((id) => Buffer.from(`GET /v1/channels/${id}/token HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${target.key}\r\n\r\n`));
  return rawSocketLoad(target.port, payloads, 50, seconds);
}

const sum = (ledgers: Map<string, LedgerRow[]>) => [...ledgers.values()].reduce((n, rows) => n + rows.length, 0);
const issuances = async (b: RunningBroker, reason: string) => (await b.metrics.issuances.get()).values.filter((v) => v.labels.reason === reason).reduce((n, v) => n + v.value, 0);

interface Run {
  emu: { url: string; stop: () => void };
  store: Opened;
  registry: ChannelRegistry;
  masterKey: string;
  ids: string[];
  offset: { ms: number };
}

async function setUp(backend: (typeof backends)[number], size: number): Promise<Run> {
  const emu = await startChildEmulator();
  const store = await backend.open(String(size));
  await store.migrate();
  const masterKey = generateMasterKeyText();
  const registry = await ChannelRegistry.open(store, new Sealer(MasterKey.parse(masterKey)));
  const ids = await registerChannels(emu.url, registry, size);
  return { emu, store, registry, masterKey, ids, offset: { ms: 0 } };
}

/** Three brokers on the store, cold: first tokens at the cap, then one refresh of everything. */
async function threeInstances(backend: (typeof backends)[number], run: Run, size: number): Promise<string> {
  const now = () => Date.now() + run.offset.ms;
  const stores: Opened[] = [];
  const brokers: RunningBroker[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const store = i === 0 ? run.store : await backend.open(String(size));
      if (i > 0) stores.push(store);
      const registry = i === 0 ? run.registry : await ChannelRegistry.open(store, new Sealer(MasterKey.parse(run.masterKey)));
      brokers.push(await startBroker({ registry, lineApiBase: run.emu.url, now, bot: false, maxIssueRate: CAP, log: { level: "warn", destination: quiet() }, scheduler: { channelListMs: 3600_000, concurrency: 4, gapMs: 0 } }));
    }
    const t0 = Date.now();
    for (;;) {
      await sleep(500);
      const l = await tokenLedgers(run.emu.url, run.ids);
      if ([...l.values()].every((rows) => rows.length > 0)) break;
    }
    const coldS = (Date.now() - t0) / 1000;
    let ledgers = await tokenLedgers(run.emu.url, run.ids);
    const coldDup = sum(ledgers) - size;
    const coldBusiest = busiestSecond(ledgers);
    const cold = await Promise.all(brokers.map((b) => issuances(b, "cold")));
    // Past every refresh point at once: everything is due, refreshed at the cap across the three.
    const last = Math.max(...[...ledgers.values()].map((rows) => rows[0]!.issuedAt + 0.8 * (rows[0]!.expiresAt - rows[0]!.issuedAt)));
    const ahead = Math.ceil((last - now()) / 1000) + 60;
    await advanceClock(run.emu.url, ahead);
    run.offset.ms += ahead * 1000;
    const t1 = Date.now();
    for (;;) {
      await sleep(500);
      const l = await tokenLedgers(run.emu.url, run.ids);
      if ([...l.values()].every((rows) => rows.length >= 2)) break;
    }
    const refreshS = (Date.now() - t1) / 1000;
    await sleep(1000);
    ledgers = await tokenLedgers(run.emu.url, run.ids);
    const refreshed = await Promise.all(brokers.map((b) => issuances(b, "refresh")));
    return `three: cold ${coldS.toFixed(1)} s = ${(size / coldS).toFixed(1)} issuances/s (busiest emulated second ${coldBusiest}, cap ${CAP}), first tokens per instance ${cold.join("/")}, duplicates ${coldDup}; refresh ${refreshS.toFixed(1)} s, refreshes per instance ${refreshed.join("/")}, duplicates ${sum(ledgers) - 2 * size}`;
  } finally {
    for (const b of brokers) await b.close();
    for (const s of stores) await s.close();
  }
}

/** Valid tokens written to the store directly (sizes too large to issue at the cap in a bench). */
async function seedTokens(run: Run): Promise<string> {
  const t0 = Date.now();
  let next = 0;
  const at = Date.now() + run.offset.ms;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < run.ids.length) {
      const id = run.ids[next++]!;
      const keyId = randomBytes(11).toString("base64url");
      const row = { channelId: id, keyId, accessToken: run.registry.sealAccessToken(id, keyId, randomBytes(32).toString("base64url")), generation: 1, state: "valid" as const, issuedAt: at, expiresAt: at + 7 * DAY_MS, refreshAt: at + 5.25 * DAY_MS, revokeAt: null, updatedAt: at };
      await run.store.commitToken(id, 0, row, at);
    }
  }));
  return `three: - (tokens written to the store in ${((Date.now() - t0) / 1000).toFixed(1)} s)`;
}

/** One broker restarted on valid tokens: start to ready, memory, idle cost, token API load. */
async function restart(run: Run, size: number, peer: LoadResult | null): Promise<{ line: string; load: LoadResult }> {
  const counting = countingStore(run.store);
  const registry = await ChannelRegistry.open(counting.store, new Sealer(MasterKey.parse(run.masterKey)));
  const { key } = await createApiKey(run.store, { channels: run.ids });
  const before = sum(await tokenLedgers(run.emu.url, run.ids));
  gc();
  const mem0 = process.memoryUsage();
  const t0 = performance.now();
  // The per-API-key rate limit raised out of the way: the load measures the token API itself.
  const broker = await startBroker({ registry, lineApiBase: run.emu.url, now: () => Date.now() + run.offset.ms, bot: false, maxIssueRate: CAP, rateLimit: { perSecond: 1e6, burst: 1e6 }, log: { level: "warn", destination: quiet() } });
  try {
    await broker.scheduler!.whenReady();
    const readyMs = performance.now() - t0;
    const readyz = (await fetch(`${broker.url}/readyz`)).status;
    // What start-up issued (must be 0), before any read: later, the weekly reconciles staggered
    // over the interval may find a written token that LINE never issued and let a read issue anew.
    await sleep(1000);
    const issuedAtStart = sum(await tokenLedgers(run.emu.url, run.ids)) - before;
    // Every credential read once through the token API (fills the memory caches).
    const t1 = performance.now();
    let next = 0;
    let failed = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < run.ids.length) {
        const res = await fetch(`${broker.url}/v1/channels/${run.ids[next++]}/token`, { headers: { authorization: `Bearer ${key}` } });
        await res.arrayBuffer();
        if (res.status !== 200) failed++;
      }
    }));
    const readAllS = (performance.now() - t1) / 1000;
    await sleep(1000);
    gc();
    const mem1 = process.memoryUsage();
    counting.reset();
    const cpu0 = process.cpuUsage();
    await sleep(IDLE_S * 1000);
    const cpu = process.cpuUsage(cpu0);
    const ops = counting.total();
    const top = [...counting.calls].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, v]) => `${k} ${v}`).join(", ");
    // The broker runs in this process: its CPU over the load, per request (steadier than req/s on a shared machine).
    const loadCpu0 = process.cpuUsage();
    const result = { ...(await tokenLoad(broker, run.ids, key)) };
    const loadCpu = process.cpuUsage(loadCpu0);
    result.cpuUs = result.requests > 0 ? (loadCpu.user + loadCpu.system) / result.requests : null;
    const perMin = ((ops * 60) / IDLE_S).toFixed(1);
    const kib = (bytes: number) => (bytes / size / 1024).toFixed(1);
    const cpuVs = peer?.cpuUs && result.cpuUs ? `, CPU/req ${(result.cpuUs / peer.cpuUs).toFixed(2)}x` : "";
    const vsPeer = peer === null ? "" : ` (${(result.requests / result.seconds / (peer.requests / peer.seconds)).toFixed(2)}x the 1-credential peer, p99 ${(result.p99 / peer.p99).toFixed(2)}x${cpuVs})`;
    return {
      load: result,
      line: `one: ready ${(readyMs / 1000).toFixed(2)} s (readyz ${readyz}), issued at start ${issuedAtStart}; read all ${readAllS.toFixed(1)} s (${failed} failed); heap +${kib(mem1.heapUsed - mem0.heapUsed)} KiB/cred, RSS +${kib(mem1.rss - mem0.rss)} KiB/cred; idle ${perMin} store ops/min (${top || "none"}), CPU ${((cpu.user + cpu.system) / 1000 / IDLE_S).toFixed(2)} ms/s; token API ${(result.requests / result.seconds).toFixed(0)} req/s p99 ${result.p99.toFixed(2)} ms, CPU ${fmtCpu(result.cpuUs ?? null)} µs/req, ${result.errors} errors${vsPeer}`,
    };
  } finally {
    await broker.close();
  }
}

async function tearDown(run: Run): Promise<void> {
  await run.store.destroy?.().catch(() => {});
  await run.store.close();
  run.emu.stop();
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  console.log(`cap ${CAP}/s, idle window ${IDLE_S} s, load ${LOAD_S} s x 50 connections (loader pinned to core 1), default scheduler settings for the restarted broker`);
  for (const backend of backends) {
    if (only.length > 0 && !only.includes(backend.name)) continue;
    let peer: LoadResult | null = null;
    try {
      const run = await setUp(backend, 1);
      try {
        await threeInstances(backend, run, 1);
        const r = await restart(run, 1, null);
        peer = r.load;
        console.log(`${backend.name.padEnd(8)}     1  peer: token API ${(peer.requests / peer.seconds).toFixed(0)} req/s p99 ${peer.p99.toFixed(2)} ms, CPU ${fmtCpu(peer.cpuUs ?? null)} µs/req`);
      } finally {
        await tearDown(run);
      }
    } catch (error) {
      console.log(`${backend.name} peer: skipped (${(error as Error).message})`);
    }
    for (const size of SIZES) {
      try {
        const t0 = Date.now();
        const run = await setUp(backend, size);
        const setupS = (Date.now() - t0) / 1000;
        try {
          const three = size <= THREE_MAX ? await threeInstances(backend, run, size) : await seedTokens(run);
          const one = await restart(run, size, peer);
          console.log(`${backend.name.padEnd(8)} ${String(size).padStart(5)}  (registered in ${setupS.toFixed(1)} s)\n    ${three}\n    ${one.line}`);
        } finally {
          await tearDown(run);
        }
      } catch (error) {
        console.log(`${backend.name} ${size}: skipped (${(error as Error).message})`);
      }
    }
  }
}

const [mode, a1, a2] = process.argv.slice(2);
if (mode === "--load") process.stdout.write(JSON.stringify(await load(JSON.parse(a1!) as { port: number; ids: string[]; key: string }, Number(a2))) + "\n");
else await main();
