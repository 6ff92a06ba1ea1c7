// Token API benchmark (issue 5, item 9): requests/s and p99 at 50 connections for
//   GET /v1/channels/{id}/token (API key check, scope check, rate limit, cached token, JSON)
// against a bare node:http server answering a fixed JSON body of the same shape, in one run.
//
// Server and loader are separate processes pinned to different cores (taskset when present).
// Loader: `wrk` when installed, else a raw-socket keep-alive Node loader; 50 connections, one
// request in flight per connection. Each variant runs KAGIYA_BENCH_RUNS times (default 3),
// interleaved, KAGIYA_BENCH_SECONDS each (default 8); medians, spread and the ratio are printed.
// KAGIYA_BENCH_QUICK=1: one short run (smoke test). Target: kagiya >= 0.7x bare, p99 <= 5 ms.
//
//   node bench/server.bench.ts            (also run by `npm run bench`)
import { spawn, type ChildProcess } from "node:child_process";
import { fmtCpu, hasCommand, median, medianCpu, pin, pinned, rawSocketLoad, runPinned, withServerCpu, type LoadResult } from "./lib/loader.ts";
import { createServer } from "node:http";
import { Writable } from "node:stream";

const SELF = import.meta.filename;
const CONNECTIONS = 50;
const QUICK = process.env["KAGIYA_BENCH_QUICK"] === "1";
const RUNS = QUICK ? 1 : Number(process.env["KAGIYA_BENCH_RUNS"] ?? 3);
const SECONDS = QUICK ? 2 : Number(process.env["KAGIYA_BENCH_SECONDS"] ?? 8);
const WARMUP_SECONDS = QUICK ? 1 : 2;
const VARIANTS = ["bare", "kagiya"] as const;
type Variant = (typeof VARIANTS)[number];

interface Target {
  port: number;
  path: string;
  authorization: string;
}

// ---------------------------------------------------------------- servers (child processes)

async function serve(variant: Variant): Promise<void> {
  if (variant === "bare") {
    const body = JSON.stringify({ access_token: "x".repeat(43), token_type: "Bearer", expires_at: 1_800_000_000, key_id: "k".repeat(22) });
    const server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    announce({ port, path: "/v1/channels/1234567890/token", authorization: "Bearer none" });
    return;
  }
  // kagiya: the full broker over a memory store, its one channel's token issued by an emulator.
  const { startEmulator } = await import("../src/emulator/index.ts");
  const { createTestChannel } = await import("../test/helpers/emulator.ts");
  const { MemoryStore } = await import("../src/store/memory.ts");
  const { ChannelRegistry } = await import("../src/store/registry.ts");
  const { MasterKey, Sealer, generateMasterKeyText } = await import("../src/store/sealed.ts");
  const { startBroker } = await import("../src/server/broker.ts");
  const { createApiKey } = await import("../src/server/apikeys.ts");
  const emu = await startEmulator();
  const store = new MemoryStore();
  const registry = await ChannelRegistry.open(store, new Sealer(MasterKey.parse(generateMasterKeyText())));
  const ch = await createTestChannel(emu.url);
  await registry.add({ channelId: ch.channelId, kid: ch.kid, privateKey: ch.privateJwk as never, channelSecret: ch.channelSecret });
  const { key } = await createApiKey(store, { channels: [ch.channelId] });
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const broker = await startBroker({ registry, lineApiBase: emu.url, rateLimit: { perSecond: 1e9, burst: 1e9 }, log: { level: "warn", destination: sink } });
  const path = `/v1/channels/${ch.channelId}/token`;
  const first = await fetch(broker.url + path, { headers: { authorization: `Bearer ${key}` } });
  if (first.status !== 200) throw new Error(`token API answered ${first.status}`);
  announce({ port: broker.port, path, authorization: `Bearer ${key}` });
}

function announce(t: Target): void {
  process.stdout.write(JSON.stringify(t) + "\n");
}

// ---------------------------------------------------------------- loaders

/** Raw-socket keep-alive loader: one request in flight per connection, like wrk. */
function load(t: Target, seconds: number): Promise<LoadResult> {
  const payload = Buffer.from(`GET ${t.path} HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\nAuthorization: ${t.authorization}\r\n\r\n`);
  return rawSocketLoad(t.port, [payload], CONNECTIONS, seconds);
}


// KAGIYA_BENCH_LOADER=node: the Node loader even when wrk is installed.
const useWrk = process.env["KAGIYA_BENCH_LOADER"] !== "node" && hasCommand("wrk");

function startServer(variant: Variant): Promise<{ child: ChildProcess; target: Target }> {
  const [cmd, args] = pinned(0, [process.execPath, SELF, "--serve", variant]);
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (out.includes("\n")) resolve({ child, target: JSON.parse(out.split("\n")[0]!) });
    });
    child.on("exit", (code) => reject(new Error(`server ${variant} exited with ${code}`)));
  });
}

async function runLoader(t: Target, seconds: number): Promise<LoadResult> {
  const argv = useWrk
    ? ["wrk", "-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, "--latency", "-H", `Authorization: ${t.authorization}`, `http://127.0.0.1:${t.port}${t.path}`]
    : [process.execPath, SELF, "--load", JSON.stringify(t), String(seconds)];
  const out = await runPinned(1, argv);
  if (!useWrk) return JSON.parse(out.trim().split("\n").pop()!) as LoadResult;
  const reqs = /(\d+) requests in ([\d.]+)s/.exec(out);
  const p50 = /\n\s+50%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99 = /\n\s+99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (!reqs || !p50 || !p99) throw new Error(`could not read wrk output: ${out}`);
  const ms = (m: RegExpExecArray): number => Number(m[1]) * (m[2] === "us" ? 0.001 : m[2] === "s" ? 1000 : 1);
  return { requests: Number(reqs[1]), seconds: Number(reqs[2]), p50: ms(p50), p99: ms(p99), errors: non2xx ? Number(non2xx[1]) : 0 };
}


async function main(): Promise<void> {
  console.log(`token API, ${CONNECTIONS} connections, ${SECONDS}s x ${RUNS} runs per variant; loader: ${useWrk ? "wrk" : "node raw-socket"}; ${pin ? "server on core 0, loader on core 1 (taskset)" : "not pinned (no taskset or one core)"}`);
  const results = new Map<Variant, LoadResult[]>(VARIANTS.map((v) => [v, []]));
  for (let run = 0; run < RUNS; run++) {
    for (const variant of VARIANTS) {
      const { child, target } = await startServer(variant);
      try {
        await runLoader(target, WARMUP_SECONDS);
        const r = await withServerCpu(child.pid, () => runLoader(target, SECONDS));
        if (r.errors > 0) throw new Error(`${variant}: ${r.errors} non-200 answers`);
        results.get(variant)!.push(r);
      } finally {
        child.kill("SIGKILL");
        await new Promise((r) => child.once("exit", r));
      }
    }
  }
  const rps = (v: Variant): number[] => results.get(v)!.map((r) => r.requests / r.seconds);
  const med = Object.fromEntries(VARIANTS.map((v) => [v, median(rps(v))])) as Record<Variant, number>;
  const p99 = Object.fromEntries(VARIANTS.map((v) => [v, median(results.get(v)!.map((r) => r.p99))])) as Record<Variant, number>;
  const cpu = Object.fromEntries(VARIANTS.map((v) => [v, medianCpu(results.get(v)!)])) as Record<Variant, number | null>;
  console.log("variant   req/s (median)  spread (min-max)      p50 ms  p99 ms (median)  vs bare  server CPU us/req  CPU vs bare");
  for (const v of VARIANTS) {
    const xs = rps(v);
    const p50 = median(results.get(v)!.map((r) => r.p50));
    console.log(`${v.padEnd(9)} ${med[v].toFixed(0).padStart(14)}  ${`${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}`.padEnd(20)}  ${p50.toFixed(2).padStart(6)}  ${p99[v].toFixed(2).padStart(15)}  ${(med[v] / med.bare).toFixed(2).padStart(6)}x  ${fmtCpu(cpu[v]).padStart(17)}  ${cpu[v] !== null && cpu.bare !== null ? `${(cpu.bare / cpu[v]).toFixed(2)}x`.padStart(11) : "-".padStart(11)}`);
  }
  const okRatio = med.kagiya >= 0.7 * med.bare;
  const okP99 = p99.kagiya <= 5;
  console.log(`targets: token API >= 0.70x bare node:http: ${(med.kagiya / med.bare).toFixed(2)}x ${okRatio ? "MET" : "MISSED"}; p99 <= 5 ms: ${p99.kagiya.toFixed(2)} ms ${okP99 ? "MET" : "MISSED"}`);
}

const [mode, a1, a2] = process.argv.slice(2);
if (mode === "--serve") await serve(a1 as Variant);
else if (mode === "--load") process.stdout.write(JSON.stringify(await load(JSON.parse(a1!) as Target, Number(a2))) + "\n");
else await main();
