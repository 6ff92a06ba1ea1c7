// `kagiya channel import` of N channels (default 1,000) per store backend, run in-process through
// the CLI's main(): validate only (--dry-run), import into an empty store, re-import (all
// skipped). Peer in the same run: `kagiya channel add` of one channel, times N. One RSA key is
// generated and reused on every line (key generation is not what is measured; each line's key is
// still linted and imported).
//   node bench/import.bench.ts [sqlite|redis|postgres ...]
//   BENCH_CHANNELS (default 1000), BENCH_RUNS (default 3), BENCH_PEER_ADDS (default 20); REDIS_URL, DATABASE_URL.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../src/cli/main.ts";
import type { CliIO } from "../src/cli/io.ts";
import { generateMasterKeyText } from "../src/store/sealed.ts";

const N = Number(process.env["BENCH_CHANNELS"] ?? 1000);
const RUNS = Number(process.env["BENCH_RUNS"] ?? 3);
const PEER_ADDS = Number(process.env["BENCH_PEER_ADDS"] ?? 20);
const ns = `kagiya_bench_import_${randomBytes(4).toString("hex")}`;
const dir = mkdtempSync(join(tmpdir(), "kagiya-bench-import-"));
const env = { KAGIYA_MASTER_KEY: generateMasterKeyText(), SECRET: "0123456789abcdef0123456789abcdef" };

interface Backend {
  name: string;
  /** A store spec for run `i`, and how to remove that store. */
  spec: (i: string) => { store: string; cleanup: () => Promise<void> };
}

const redisUrl = process.env["REDIS_URL"] || "redis://127.0.0.1:6379";
const pgUrl = process.env["DATABASE_URL"] || "postgres://postgres@127.0.0.1:5432/test";
const backends: Backend[] = [
  { name: "sqlite", spec: (i) => ({ store: `sqlite:${join(dir, `${i}.db`)}`, cleanup: async () => {} }) },
  {
    name: "redis",
    spec: (i) => ({
      store: `${redisUrl}?prefix=${ns}_${i}:`,
      cleanup: async () => {
        const { RedisStore } = await import("../src/store/redis/store.ts");
        const s = await RedisStore.connect({ url: redisUrl, prefix: `${ns}_${i}:` });
        await s.destroy();
        await s.close();
      },
    }),
  },
  {
    name: "postgres",
    spec: (i) => ({
      store: `${pgUrl}?schema=${ns}_${i}`,
      cleanup: async () => {
        const { PostgresStore } = await import("../src/store/postgres/store.ts");
        const s = await PostgresStore.connect({ url: pgUrl, schema: `${ns}_${i}` });
        await s.destroy();
        await s.close();
      },
    }),
  },
];

const io: CliIO = { stdout: () => {}, stderr: (t) => void process.stderr.write(t), readStdin: async () => "", env, cwd: dir };

/** Runs one CLI command in-process; returns wall and CPU milliseconds. Throws unless it exits 0. */
async function timed(argv: string[]): Promise<{ wallMs: number; cpuMs: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const code = await main(argv, io);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (code !== 0) throw new Error(`kagiya ${argv.slice(0, 2).join(" ")} exited ${code}`);
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

const jwk = { ...generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" }), alg: "RS256", use: "sig" };
const file = join(dir, "channels.jsonl");
const lines: string[] = [];
for (let i = 0; i < N; i++) {
  const stateless = i % 2 === 1;
  lines.push(JSON.stringify({ id: String(3_000_000_000 + i), kid: `kid-${i}`, key: jwk, secret: randomBytes(16).toString("hex"), ...(stateless ? { kind: "line-stateless" } : {}) }));
}
writeFileSync(file, lines.join("\n") + "\n", { mode: 0o600 });
writeFileSync(join(dir, "key.jwk.json"), JSON.stringify(jwk), { mode: 0o600 });

const fmt = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  return `${Math.round(s[Math.floor(s.length / 2)]!)} (${Math.round(s[0]!)}–${Math.round(s[s.length - 1]!)})`;
};
// Warm-up (module loading, JIT), untimed.
await timed(["channel", "import", file, "--dry-run", "--store", `sqlite:${join(dir, "warm-up.db")}`]);

const only = process.argv.slice(2);
const rows: string[][] = [["backend", "phase", `wall ms, median (min–max) of ${RUNS}`, "CPU ms, median", "per channel ms"]];
for (const b of backends.filter((x) => only.length === 0 || only.includes(x.name))) {
  const phases: Record<string, { wall: number[]; cpu: number[] }> = {};
  const record = (phase: string, r: { wallMs: number; cpuMs: number }): void => {
    const p = (phases[phase] ??= { wall: [], cpu: [] });
    p.wall.push(r.wallMs);
    p.cpu.push(r.cpuMs);
  };
  try {
    for (let run = 0; run < RUNS; run++) {
      const s = b.spec(`r${run}`);
      try {
        record("import --dry-run (empty store)", await timed(["channel", "import", file, "--dry-run", "--store", s.store]));
        record("import (empty store)", await timed(["channel", "import", file, "--store", s.store]));
        record("re-import (all skipped)", await timed(["channel", "import", file, "--store", s.store]));
      } finally {
        await s.cleanup();
      }
      const peer = b.spec(`p${run}`);
      try {
        const t = { wallMs: 0, cpuMs: 0 };
        for (let i = 0; i < PEER_ADDS; i++) {
          const r = await timed(["channel", "add", "--id", String(4_000_000_000 + i), "--kid", `kid-${i}`, "--key", join(dir, "key.jwk.json"), "--secret-env", "SECRET", "--store", peer.store]);
          t.wallMs += r.wallMs;
          t.cpuMs += r.cpuMs;
        }
        record(`peer: channel add x ${PEER_ADDS}, scaled to ${N}`, { wallMs: (t.wallMs / PEER_ADDS) * N, cpuMs: (t.cpuMs / PEER_ADDS) * N });
      } finally {
        await peer.cleanup();
      }
    }
  } catch (error) {
    rows.push([b.name, `skipped: ${(error as Error).message.slice(0, 70)}`, "-", "-", "-"]);
    continue;
  }
  for (const [phase, v] of Object.entries(phases)) {
    const cpu = [...v.cpu].sort((x, y) => x - y)[Math.floor(v.cpu.length / 2)]!;
    const wall = [...v.wall].sort((x, y) => x - y)[Math.floor(v.wall.length / 2)]!;
    rows.push([b.name, phase, fmt(v.wall), String(Math.round(cpu)), (wall / N).toFixed(2)]);
  }
}
rmSync(dir, { recursive: true, force: true });

const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
process.stdout.write(`channel import of ${N} channels (half v2.1, half stateless; one key reused), in-process, ${RUNS} runs\n`);
for (const r of rows) process.stdout.write(r.map((c, i) => c.padEnd(widths[i]!)).join("  ") + "\n");
