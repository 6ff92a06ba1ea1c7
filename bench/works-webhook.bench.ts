// LINE WORKS callback intake benchmark: requests/s and p99 for a 1 KB signed callback, side by side
// in one run, pinned as bench/webhook.bench.ts pins (server on core 0, loader on core 1).
//
//   bare        node:http, X-WORKS-Signature check (node:crypto, constant time) and 200: the ceiling
//   bare-json   node:http, the same check, JSON.parse, a duplicate check on SHA-256(bot ID + body)
//               and an in-memory queue, 200: the least code that does the intake's whole job
//   kagiya      kagiya's node:http listener, its LINE WORKS route (listener.works): signature, split,
//               digest, duplicate check, 200, event queued
//   serve       the whole `kagiya serve --inbox memory` route POST /webhook/works/{botId} (startBroker):
//               router, metrics, bot secret from the registry, duplicate check in the store (SQLite;
//               KAGIYA_BENCH_STORE for another), 200, event queued in memory
//   serve-inbox the same with the durable inbox (serve's default): each callback written to the
//               store's inbox before the 200, handled from there
//
// Loader: the raw-socket keep-alive Node loader of bench/lib/loader.ts, 50 connections; every
// request a distinct body (the duplicate check passes each). KAGIYA_BENCH_RUNS runs (default 3),
// interleaved; medians, spread and ratios. KAGIYA_BENCH_QUICK=1: one short run.
//
//   node bench/works-webhook.bench.ts      (also run by `npm run bench`)
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { fmtCpu, median, medianCpu, pin, rawSocketLoad, runPinned, type LoadResult } from "./lib/loader.ts";
import { measureVariants, RUNS, SECONDS, serveBenchBroker } from "./lib/variants.ts";

const SELF = import.meta.filename;
const BOT_ID = "2000001";
const SECRET = "works-bench-bot-secret-0123456789";
const CONNECTIONS = 50;
const BODIES = 2000;
const VARIANTS = ["bare", "bare-json", "kagiya", "serve", "serve-inbox"] as const;
type Variant = (typeof VARIANTS)[number];

/** A 1 KB LINE WORKS callback: one text message, distinct per index. */
function body(i: number): string {
  const event = {
    type: "message",
    source: { userId: `bench-user-${i}`, domainId: 10000001 },
    issuedTime: new Date(1_700_000_000_000 + i).toISOString(),
    content: { type: "text", text: "" },
  };
  const base = JSON.stringify(event).length;
  event.content.text = "あ".repeat(Math.floor((1024 - base) / 3)) + "a".repeat((1024 - base) % 3);
  return JSON.stringify(event);
}

/** The peers' check: HMAC-SHA256 under the Bot Secret over the raw bytes, Base64, constant time. */
function signed(raw: Buffer, header: string | string[] | undefined): boolean {
  const expected = Buffer.from(createHmac("sha256", SECRET).update(raw).digest("base64"));
  const given = Buffer.from(typeof header === "string" ? header : "");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

// ---------------------------------------------------------------- servers (child processes)

async function serve(variant: Variant): Promise<void> {
  let handled = 0;
  const onEvent = (): void => void handled++;
  let handler: (req: IncomingMessage, res: ServerResponse) => void;
  if (variant === "serve" || variant === "serve-inbox") return serveBroker(variant === "serve" ? "memory" : "store");
  if (variant === "kagiya") {
    const { createNodeWebhookListener } = await import("../src/webhook/adapters/node.ts");
    // No LINE channel; dedupTtlMs 1 so every distinct body passes the check, as fresh callbacks do.
    const listener = createNodeWebhookListener({ secretFor: () => null, botSecretFor: (id) => (id === BOT_ID ? SECRET : null), onEvent, dedupTtlMs: 1 });
    handler = listener.works;
  } else {
    const json = variant === "bare-json";
    const seen = new Map<string, number>();
    const queue: unknown[] = [];
    let scheduled = false;
    handler = (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const raw = Buffer.concat(chunks);
        if (!signed(raw, req.headers["x-works-signature"])) res.statusCode = 401;
        else if (json) {
          try {
            const event = JSON.parse(raw.toString("utf8")) as unknown;
            const key = createHash("sha256").update(BOT_ID).update("\0").update(raw).digest("hex");
            const now = Date.now();
            if ((seen.get(key) ?? 0) <= now) {
              seen.set(key, now + 1);
              if (seen.size > 100_000) seen.clear();
              queue.push(event);
              if (!scheduled) {
                scheduled = true;
                setTimeout(() => ((scheduled = false), queue.splice(0).forEach(onEvent)), 0);
              }
            }
          } catch {
            res.statusCode = 400;
          }
        }
        res.end();
      });
    };
  }
  const server = createServer({ keepAliveTimeout: 60_000 }, handler);
  server.listen(0, "127.0.0.1", () => process.stdout.write(JSON.stringify({ port: (server.address() as { port: number }).port }) + "\n"));
  process.on("SIGTERM", () => process.stdout.write(JSON.stringify({ handled }) + "\n", () => process.exit(0)));
}

/** The full broker on a store (default SQLite in a temporary directory) with one LINE WORKS app owning the bot. */
function serveBroker(inbox: "memory" | "store"): Promise<void> {
  return serveBenchBroker(async (registry, privateJwk) => {
    await registry.add({
      channelId: "works-bench",
      kind: "line-works",
      kid: "",
      privateKey: privateJwk as never,
      channelSecret: "",
      settings: { clientId: "bench-client", serviceAccount: "bench.serviceaccount@example.com", scope: "bot", refresh: "assertion", botId: BOT_ID },
      secrets: { clientSecret: "bench-client-secret", botSecret: SECRET },
    }, { replace: true });
  }, { inbox, worksAuthBase: "http://127.0.0.1:9", worksApiBase: "http://127.0.0.1:9" });
}

// ---------------------------------------------------------------- loader (child process)

function load(port: number, seconds: number): Promise<LoadResult> {
  const payloads = Array.from({ length: BODIES }, (_, i) => {
    const b = Buffer.from(body(i));
    const signature = createHmac("sha256", SECRET).update(b).digest("base64");
    return Buffer.concat([
      Buffer.from(`POST /webhook/works/${BOT_ID} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json; charset=UTF-8\r\nX-WORKS-BotId: ${BOT_ID}\r\nX-WORKS-Signature: ${signature}\r\nContent-Length: ${b.length}\r\n\r\n`),
      b,
    ]);
  });
  return rawSocketLoad(port, payloads, CONNECTIONS, seconds);
}

async function runLoader(port: number, seconds: number): Promise<LoadResult> {
  const out = await runPinned(1, [process.execPath, SELF, "--load", String(port), String(seconds)]);
  return JSON.parse(out.trim().split("\n").pop()!) as LoadResult;
}

// ---------------------------------------------------------------- orchestration

async function main(): Promise<void> {
  console.log(`LINE WORKS callback intake, 1 KB signed body, ${CONNECTIONS} connections, ${SECONDS}s x ${RUNS} runs per variant; loader: node raw-socket; ${pin ? "server on core 0, loader on core 1 (taskset)" : "not pinned (no taskset or one core)"}`);
  const { results, handled } = await measureVariants(SELF, VARIANTS, runLoader);
  const rps = (v: Variant): number[] => results.get(v)!.map((r) => r.requests / r.seconds);
  const med = Object.fromEntries(VARIANTS.map((v) => [v, median(rps(v))])) as Record<Variant, number>;
  const cpu = Object.fromEntries(VARIANTS.map((v) => [v, medianCpu(results.get(v)!)])) as Record<Variant, number | null>;
  console.log("variant      req/s (median)  spread (min-max)      p99 ms (median)  vs bare  vs bare-json  server CPU us/req");
  for (const v of VARIANTS) {
    const xs = rps(v);
    const p99 = median(results.get(v)!.map((r) => r.p99));
    console.log(
      `${v.padEnd(12)} ${med[v].toFixed(0).padStart(14)}  ${`${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}`.padEnd(20)}  ${p99.toFixed(2).padStart(15)}  ${(med[v] / med.bare).toFixed(2).padStart(6)}x  ${(med[v] / med["bare-json"]).toFixed(2).padStart(11)}x  ${fmtCpu(cpu[v]).padStart(17)}`,
    );
  }
  console.log(`callbacks handled per request (warm-up included; 1.00 = every callback passed the duplicate check and was queued): ${VARIANTS.filter((v) => v !== "bare").map((v) => `${v} ${median(handled.get(v)!).toFixed(2)}`).join(", ")}`);
}

const [mode, a1, a2] = process.argv.slice(2);
if (mode === "--serve") await serve(a1 as Variant);
else if (mode === "--load") process.stdout.write(JSON.stringify(await load(Number(a1), Number(a2))) + "\n");
else await main();
