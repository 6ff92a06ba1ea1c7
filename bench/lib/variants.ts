// Shared by the webhook load benchmarks: the run settings every load bench reads from the
// environment, the interleaved variant loop (each variant's server in its own pinned process,
// warm-up, measured run with its CPU cost, then SIGTERM), and the full broker on a scratch store
// as a bench server. Not a benchmark itself (no .bench.ts suffix).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrokerOptions } from "../../src/server/broker.ts";
import type { ChannelRegistry } from "../../src/store/registry.ts";
import { spawnBenchServer, withServerCpu, type LoadResult } from "./loader.ts";

/** KAGIYA_BENCH_QUICK=1: one short run; else KAGIYA_BENCH_RUNS (3) runs of KAGIYA_BENCH_SECONDS (8) s after a 2 s warm-up. */
export const QUICK = process.env["KAGIYA_BENCH_QUICK"] === "1";
export const RUNS = QUICK ? 1 : Number(process.env["KAGIYA_BENCH_RUNS"] ?? 3);
export const SECONDS = QUICK ? 2 : Number(process.env["KAGIYA_BENCH_SECONDS"] ?? 8);
export const WARMUP_SECONDS = QUICK ? 1 : 2;

/**
 * Runs every variant RUNS times, interleaved: its server (`self --serve variant`), a warm-up, a
 * measured load with the server's CPU, SIGTERM. Any non-200 answer fails the bench. `handled` is
 * the share of requests whose event reached the handler (not for `bare`, which has none).
 */
export async function measureVariants<V extends string>(
  self: string,
  variants: readonly V[],
  runLoader: (port: number, seconds: number) => Promise<LoadResult>,
): Promise<{ results: Map<V, LoadResult[]>; handled: Map<V, number[]> }> {
  const results = new Map<V, LoadResult[]>(variants.map((v) => [v, []]));
  const handled = new Map<V, number[]>(variants.map((v) => [v, []]));
  for (let run = 0; run < RUNS; run++) {
    for (const variant of variants) {
      const server = await spawnBenchServer(self, variant);
      let total = 0;
      try {
        const w = await runLoader(server.port, WARMUP_SECONDS);
        const r = await withServerCpu(server.child.pid, () => runLoader(server.port, SECONDS));
        if (r.errors > 0 || w.errors > 0) throw new Error(`${variant}: ${r.errors + w.errors} non-200 answers`);
        results.get(variant)!.push(r);
        total = w.requests + r.requests;
      } finally {
        server.child.kill("SIGTERM");
        await new Promise((r) => server.child.once("exit", r));
      }
      if (variant !== "bare") handled.get(variant)!.push(server.handled() / total);
    }
  }
  return { results, handled };
}

/**
 * The full broker (`kagiya serve`) as a bench server on a scratch store (SQLite in a temporary
 * directory, or KAGIYA_BENCH_STORE), with a fresh master key; `register` adds what it serves.
 * Prints `{"port"}` when listening and `{"handled"}` (events its bot saw) on SIGTERM, after
 * draining and emptying the store.
 */
export async function serveBenchBroker(
  register: (registry: ChannelRegistry, privateJwk: Record<string, unknown>) => Promise<void>,
  options: Partial<BrokerOptions> & { onEvent?: () => void },
): Promise<void> {
  const { openStore } = await import("../../src/store/open.ts");
  const { ChannelRegistry } = await import("../../src/store/registry.ts");
  const { MasterKey, Sealer, generateMasterKeyText } = await import("../../src/store/sealed.ts");
  const { generateAssertionKeyPair } = await import("../../src/core/keys/generate.ts");
  const { startBroker } = await import("../../src/server/broker.ts");
  const { Writable } = await import("node:stream");
  const dir = mkdtempSync(join(tmpdir(), "kagiya-bench-serve-"));
  const spec = process.env["KAGIYA_BENCH_STORE"] || `sqlite:${join(dir, "bench.db")}`;
  const store = await openStore(spec);
  await store.migrate();
  const registry = await ChannelRegistry.open(store, new Sealer(MasterKey.parse(generateMasterKeyText())));
  const pair = await generateAssertionKeyPair();
  await register(registry, pair.privateJwk as unknown as Record<string, unknown>);
  let handled = 0;
  const { onEvent, ...brokerOptions } = options;
  const broker = await startBroker({
    registry,
    lineApiBase: "http://127.0.0.1:9",
    scheduler: false,
    // Every event passes the duplicate check as a fresh one (the loader cycles through its bodies).
    webhookDedupTtlMs: 1,
    bot: { dispatch: () => void (handled++, onEvent?.()) },
    log: { level: "warn", destination: new Writable({ write: (_c, _e, cb) => cb() }) },
    ...brokerOptions,
  });
  process.stdout.write(JSON.stringify({ port: broker.port }) + "\n");
  process.on("SIGTERM", () => {
    void (async () => {
      await broker.close(); // drains queued events first
      // KAGIYA_BENCH_STORE names a scratch store: emptied at the end (Redis prefix, PostgreSQL schema).
      await (store as { destroy?: () => Promise<void> }).destroy?.();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
      process.stdout.write(JSON.stringify({ handled }) + "\n", () => process.exit(0));
    })();
  });
}
