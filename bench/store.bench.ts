// Raw store read throughput of a channel's current token: getCurrent() + opening the sealed
// access token, with 32 reads in flight, per backend. This is the path TokenManager.get() takes
// with its memory cache off. Targets: SQLite >= 50,000 ops/s; Redis and PostgreSQL >= 10,000 ops/s.
//   node bench/store.bench.ts [sqlite|redis|postgres|memory ...]
//   BENCH_SECONDS (default 2) per run, BENCH_RUNS (default 3); REDIS_URL, DATABASE_URL as usual.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryStore } from "../src/store/memory.ts";
import { generateMasterKeyText, MasterKey, openAccessToken, sealAccessToken, Sealer } from "../src/store/sealed.ts";
import { SqliteStore } from "../src/store/sqlite/store.ts";
import type { Store } from "../src/store/types.ts";

const IN_FLIGHT = 32;
const SECONDS = Number(process.env["BENCH_SECONDS"] ?? 2);
const RUNS = Number(process.env["BENCH_RUNS"] ?? 3);
const CHANNEL = "1234567890";

interface Backend {
  name: string;
  target: number;
  open: () => Promise<{ store: Store; cleanup: () => Promise<void> }>;
}

const ns = `kagiya_bench_${randomBytes(4).toString("hex")}`;
const backends: Backend[] = [
  {
    name: "memory",
    target: 0,
    open: async () => {
      const store = new MemoryStore();
      return { store, cleanup: () => store.close() };
    },
  },
  {
    name: "sqlite",
    target: 50_000,
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), "kagiya-bench-"));
      const store = new SqliteStore({ path: join(dir, "bench.db") });
      return {
        store,
        cleanup: async () => {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: "redis",
    target: 10_000,
    open: async () => {
      const { RedisStore } = await import("../src/store/redis/store.ts");
      const store = await RedisStore.connect({ url: process.env["REDIS_URL"] || "redis://127.0.0.1:6379", prefix: `${ns}:` });
      return {
        store,
        cleanup: async () => {
          await store.destroy();
          await store.close();
        },
      };
    },
  },
  {
    name: "postgres",
    target: 10_000,
    open: async () => {
      const { PostgresStore } = await import("../src/store/postgres/store.ts");
      const store = await PostgresStore.connect({ url: process.env["DATABASE_URL"] || "postgres://postgres@127.0.0.1:5432/test", schema: ns });
      return {
        store,
        cleanup: async () => {
          await store.destroy();
          await store.close();
        },
      };
    },
  },
];

async function measure(store: Store, sealer: Sealer, seconds: number): Promise<{ opsPerSec: number; p99us: number }> {
  const latencies: number[] = [];
  let ops = 0;
  const warmupEnd = performance.now() + 300;
  const end = warmupEnd + seconds * 1000;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      for (;;) {
        const t0 = performance.now();
        if (t0 >= end) return;
        const { token } = await store.getCurrent(CHANNEL);
        if (!token || openAccessToken(sealer, token).length === 0) throw new Error("no token");
        const t1 = performance.now();
        if (t0 >= warmupEnd && t1 <= end) {
          ops++;
          if ((ops & 7) === 0) latencies.push(t1 - t0);
        }
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { opsPerSec: ops / seconds, p99us: (latencies[Math.floor(latencies.length * 0.99)] ?? NaN) * 1000 };
}

const only = process.argv.slice(2);
const sealer = new Sealer(MasterKey.parse(generateMasterKeyText()));
const rows: string[][] = [["backend", "median ops/s", "min–max ops/s", "p99 µs", "target", "verdict"]];
for (const b of backends.filter((x) => only.length === 0 || only.includes(x.name))) {
  let handle: Awaited<ReturnType<Backend["open"]>>;
  try {
    handle = await b.open();
  } catch (error) {
    rows.push([b.name, "-", "-", "-", String(b.target), `skipped: ${(error as Error).message.slice(0, 60)}`]);
    continue;
  }
  try {
    const { store } = handle;
    await store.migrate();
    const now = Date.now();
    await store.commitToken(CHANNEL, 0, {
      channelId: CHANNEL,
      keyId: "bench-key",
      accessToken: sealAccessToken(sealer, CHANNEL, "bench-key", "x".repeat(170)),
      generation: 0,
      state: "valid",
      issuedAt: now,
      expiresAt: now + 86_400_000,
      refreshAt: now + 60_000_000,
      revokeAt: null,
      updatedAt: now,
    }, now);
    const results = [];
    for (let i = 0; i < RUNS; i++) results.push(await measure(store, sealer, SECONDS));
    const ops = results.map((r) => r.opsPerSec).sort((a, c) => a - c);
    const median = ops[Math.floor(ops.length / 2)]!;
    const p99 = results.map((r) => r.p99us).sort((a, c) => a - c)[Math.floor(results.length / 2)]!;
    rows.push([
      b.name,
      Math.round(median).toLocaleString("en-US"),
      `${Math.round(ops[0]!).toLocaleString("en-US")}–${Math.round(ops[ops.length - 1]!).toLocaleString("en-US")}`,
      p99.toFixed(0),
      b.target ? `>= ${b.target.toLocaleString("en-US")}` : "-",
      b.target ? (median >= b.target ? "ok" : "BELOW TARGET") : "reference",
    ]);
  } finally {
    await handle.cleanup();
  }
}

const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
process.stdout.write(`store read: getCurrent + open sealed token, ${IN_FLIGHT} in flight, ${RUNS} runs x ${SECONDS}s\n`);
for (const r of rows) process.stdout.write(r.map((c, i) => c.padEnd(widths[i]!)).join("  ") + "\n");
