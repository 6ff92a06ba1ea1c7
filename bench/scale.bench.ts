// A broker with many credentials at rest: RSS and heap per credential, idle CPU and store
// operations per minute with the default scheduler settings, for 100 and 1,000 credentials (the
// 100 run is the peer: idle cost should not grow with the count but for the hourly reconcile and
// check each credential gets). The emulator runs in a child process so its memory is not counted.
//   node bench/scale.bench.ts [memory|redis|postgres ...]
//   BENCH_IDLE_S (default 30): idle window; BENCH_SIZES (default 100,1000); REDIS_URL, DATABASE_URL.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { MemoryStore } from "../src/store/memory.ts";
import { ChannelRegistry } from "../src/store/registry.ts";
import { generateMasterKeyText, MasterKey, Sealer } from "../src/store/sealed.ts";
import type { Store } from "../src/store/types.ts";
import { startBroker } from "../src/server/broker.ts";
import { tokenLedger } from "../test/helpers/emulator.ts";
import { countingStore, registerChannels } from "../test/server/scale-fixture.ts";

const IDLE_S = Number(process.env["BENCH_IDLE_S"] ?? 30);
const SIZES = (process.env["BENCH_SIZES"] ?? "100,1000").split(",").map(Number);
const only = process.argv.slice(2);
const ns = `kagiya_bench_scale_${randomBytes(4).toString("hex")}`;

const backends: Array<{ name: string; open: (run: string) => Promise<Store & { destroy?(): Promise<void> }> }> = [
  { name: "memory", open: async () => new MemoryStore() },
  {
    name: "redis",
    open: async (run) => (await import("../src/store/redis/store.ts")).RedisStore.connect({ url: process.env["REDIS_URL"] || "redis://127.0.0.1:6379", prefix: `${ns}_${run}:` }),
  },
  {
    name: "postgres",
    open: async (run) => (await import("../src/store/postgres/store.ts")).PostgresStore.connect({ url: process.env["DATABASE_URL"] || "postgres://postgres@127.0.0.1:5432/test", schema: `${ns}_${run}` }),
  },
];

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

const mb = (bytes: number) => (bytes / 1048576).toFixed(1);

async function run(backend: (typeof backends)[number], size: number): Promise<string> {
  const emu = await startChildEmulator();
  const inner = await backend.open(`${size}`);
  await inner.migrate();
  const counting = countingStore(inner);
  const registry = await ChannelRegistry.open(counting.store, new Sealer(MasterKey.parse(generateMasterKeyText())));
  const ids = await registerChannels(emu.url, registry, size);
  global.gc?.();
  const before = process.memoryUsage();
  const started = Date.now();
  const broker = await startBroker({ registry, lineApiBase: emu.url, bot: false, maxIssueRate: 100, log: { level: "warn", destination: new Writable({ write: (_c, _e, cb) => cb() }) } });
  try {
    // Warm: every credential has its token (issued at the bench's raised rate).
    for (let left = [...ids]; left.length > 0; ) {
      await new Promise((r) => setTimeout(r, 500));
      const checked = await Promise.all(left.map(async (id) => ((await tokenLedger(emu.url, id)).length > 0 ? null : id)));
      left = checked.filter((id): id is string => id !== null);
    }
    const warmS = (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 2000));
    global.gc?.();
    const after = process.memoryUsage();
    counting.reset();
    const cpu0 = process.cpuUsage();
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    const cpu = process.cpuUsage(cpu0);
    const perMin = (n: number) => ((n * 60) / IDLE_S).toFixed(0);
    const top = [...counting.calls].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, v]) => `${k} ${v}`).join(", ");
    return `${backend.name.padEnd(8)} ${String(size).padStart(5)}  warm ${warmS.toFixed(1)} s  RSS ${mb(after.rss)} MB (+${((after.rss - before.rss) / size / 1024).toFixed(1)} KiB/cred)  heap +${((after.heapUsed - before.heapUsed) / size / 1024).toFixed(1)} KiB/cred  idle store ops/min ${perMin(counting.total())} (${top || "none"})  idle CPU ${((cpu.user + cpu.system) / 1000 / IDLE_S).toFixed(1)} ms/s`;
  } finally {
    await broker.close();
    await inner.destroy?.().catch(() => {});
    await inner.close();
    emu.stop();
  }
}

console.log(`idle window ${IDLE_S} s, default scheduler (wake <= 1 s, list every 30 s, check and reconcile each credential about hourly)`);
for (const backend of backends) {
  if (only.length > 0 && !only.includes(backend.name)) continue;
  for (const size of SIZES) {
    try {
      console.log(await run(backend, size));
    } catch (error) {
      console.log(`${backend.name} ${size}: skipped (${(error as Error).message})`);
    }
  }
}
