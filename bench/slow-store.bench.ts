// A store that answers slowly: Redis and PostgreSQL behind a TCP proxy adding BENCH_STORE_DELAY_MS
// (default 1000) each way, so every round trip takes 2 s more. Rows, each next to its peer with the
// store direct (the same proxy with no delay), measured in the same run:
//   - get() answered from the TokenManager's memory (ns per awaited call);
//   - a read at the cache's 5 s re-check through ServeWhileRefreshing (what `kagiya serve` does);
//   - the same read from the TokenManager alone (from memory, re-checked in the background);
//   - a read past the 60 s stale window from the TokenManager alone (it waits for the store).
// Medians of BENCH_RUNS runs (default 3) with the spread (min-max).
//   node bench/slow-store.bench.ts [redis|postgres]
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { startEmulator } from "../src/emulator/index.ts";
import { ServeWhileRefreshing } from "../src/server/serve-while-refreshing.ts";
import { openStore } from "../src/store/open.ts";
import { ChannelRegistry } from "../src/store/registry.ts";
import { generateMasterKeyText, MasterKey, Sealer } from "../src/store/sealed.ts";
import type { Store } from "../src/store/types.ts";
import { lineTokenApi } from "../src/tokens/line.ts";
import { TokenManager } from "../src/tokens/manager.ts";
import { startSlowProxy } from "../test/faults/slow-proxy.ts";

const RUNS = Number(process.env["BENCH_RUNS"] ?? 3);
const DELAY_MS = Number(process.env["BENCH_STORE_DELAY_MS"] ?? 1000);
const WARM_OPS = 200_000;
const RECHECKS = 3;
const only = process.argv.slice(2);

interface Row {
  name: string;
  unit: string;
  runs: number[];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

async function main(): Promise<void> {
  const emu = await startEmulator();
  const sealer = new Sealer(MasterKey.parse(generateMasterKeyText()));
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pub = publicKey.export({ format: "jwk" });
  const post = async (path: string, body: unknown): Promise<any> => (await fetch(emu.url + path, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } })).json();
  const ns = `kagiya_bench_slow_${randomBytes(4).toString("hex")}`;
  const redis = new URL(process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379");
  const pg = new URL(process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test");
  const backends = [
    { name: "redis", host: redis.hostname, port: Number(redis.port || 6379), spec: (p: number) => `redis://127.0.0.1:${p}${redis.pathname}?prefix=${ns}:` },
    { name: "postgres", host: pg.hostname, port: Number(pg.port || 5432), spec: (p: number) => `postgres://${pg.username}@127.0.0.1:${p}${pg.pathname}?schema=${ns}` },
  ].filter((b) => only.length === 0 || only.includes(b.name));
  const rows: Row[] = [];
  for (const b of backends) {
    const proxy = await startSlowProxy(b.port, b.host);
    let store: Store;
    try {
      store = await openStore(b.spec(proxy.port));
    } catch (error) {
      console.log(`${b.name}: skipped (${(error as Error).message.split("\n")[0]})`);
      await proxy.close();
      continue;
    }
    let offset = 0;
    const now = (): number => Date.now() + offset;
    try {
      const registry = await ChannelRegistry.open(store, sealer, { now });
      const { channelId, channelSecret } = await post("/__emulator/channels", {});
      const { kid } = await post(`/__emulator/channels/${channelId}/keys`, { kty: "RSA", alg: "RS256", use: "sig", n: pub.n, e: pub.e });
      await registry.add({ channelId, kid, privateKey: privateKey.export({ format: "jwk" }) as never, channelSecret });
      const manager = new TokenManager({ registry, line: lineTokenApi({ baseUrl: emu.url }), now });
      const reads = new ServeWhileRefreshing(manager, { now });
      await reads.get(channelId);

      const warm = { direct: { name: `${b.name}: get() from memory, store direct`, unit: "ns/call", runs: [] as number[] }, slow: { name: `${b.name}: get() from memory, store +${2 * DELAY_MS} ms/round trip`, unit: "ns/call", runs: [] as number[] } };
      const swr = { direct: { name: `${b.name}: read at the 5 s re-check, ServeWhileRefreshing, store direct`, unit: "ms", runs: [] as number[] }, slow: { name: `${b.name}: read at the 5 s re-check, ServeWhileRefreshing, store slow`, unit: "ms", runs: [] as number[] } };
      const plain = { direct: { name: `${b.name}: read at the 5 s re-check, TokenManager alone, store direct`, unit: "ms", runs: [] as number[] }, slow: { name: `${b.name}: read at the 5 s re-check, TokenManager alone, store slow`, unit: "ms", runs: [] as number[] } };
      const past = { direct: { name: `${b.name}: read past the stale window, TokenManager alone, store direct`, unit: "ms", runs: [] as number[] }, slow: { name: `${b.name}: read past the stale window, TokenManager alone, store slow`, unit: "ms", runs: [] as number[] } };
      for (let r = 0; r < RUNS; r++) {
        for (const mode of ["direct", "slow"] as const) {
          proxy.delayMs = mode === "slow" ? DELAY_MS : 0;
          // From memory: read from the store just before (past the stale window, so get() waits for
          // it), so the whole loop is inside the 5 s window.
          offset += 70_000;
          await manager.get(channelId);
          for (let i = 0; i < 20_000; i++) await manager.get(channelId);
          const t0 = process.hrtime.bigint();
          for (let i = 0; i < WARM_OPS; i++) await manager.get(channelId);
          warm[mode].runs.push(Number(process.hrtime.bigint() - t0) / WARM_OPS);
          // At the re-check: one read each way, then let the store read finish before the next.
          const swrLat: number[] = [];
          const plainLat: number[] = [];
          const pastLat: number[] = [];
          for (let i = 0; i < RECHECKS; i++) {
            offset += 6_000;
            let a = performance.now();
            await reads.get(channelId);
            swrLat.push(performance.now() - a);
            await manager.get(channelId);
            offset += 6_000;
            a = performance.now();
            await manager.get(channelId);
            plainLat.push(performance.now() - a);
            offset += 70_000;
            a = performance.now();
            await manager.get(channelId);
            pastLat.push(performance.now() - a);
          }
          swr[mode].runs.push(median(swrLat));
          plain[mode].runs.push(median(plainLat));
          past[mode].runs.push(median(pastLat));
        }
      }
      rows.push(warm.direct, warm.slow, swr.direct, swr.slow, plain.direct, plain.slow, past.direct, past.slow);
    } finally {
      proxy.delayMs = 0;
      await (store as { destroy?: () => Promise<void> }).destroy?.().catch(() => {});
      await store.close();
      await proxy.close();
    }
  }
  await emu.close();
  console.log(`runs: ${RUNS}; added latency ${DELAY_MS} ms each way; medians with (min-max)`);
  const w = Math.max(...rows.map((r) => r.name.length));
  for (const r of rows) {
    console.log(`${r.name.padEnd(w)}  ${fmt(median(r.runs)).padStart(8)} ${r.unit.padEnd(8)} (${fmt(Math.min(...r.runs))}-${fmt(Math.max(...r.runs))})`);
  }
}

await main();
