// Webhook intake benchmark: requests/s and p99 for a 1 KB signed body, side by side in one run.
//
//   bare      node:http, signature check (node:crypto) and 200, nothing else: the ceiling
//   bare-json node:http, signature check, JSON.parse, the peers' duplicate check and queue, 200:
//             the least code that does the intake's whole job, so the ceiling for that job
//   kagiya    kagiya's node:http adapter: signature, duplicate check, 200, event queued
//   kagiya-web  kagiya's web-standard (Request) handler with WebCrypto, behind a minimal
//             node:http -> Request bridge (for the "WebCrypto per request" decision)
//   express   Express + the official @line/bot-sdk `middleware`, then duplicate check, 200, event queued
//   fastify   Fastify 5 with a raw-body parser, signature check (node:crypto), JSON.parse, then the
//             same duplicate check and queue: the issue's other reference point
//   serve     the whole `kagiya serve --inbox memory` route POST /webhook/{channelId} (startBroker): the
//             server's dispatch, metrics, secret from the registry, duplicate check in the store (SQLite, the default;
//             KAGIYA_BENCH_STORE = memory: | redis://… | postgres://… for another), 200, event queued in memory
//   serve-inbox  the same with the durable inbox (serve's default): each event written to the store's
//             inbox before the 200, handled from there (claim, handle, finish)
//
// Server and loader are separate processes pinned to different cores (taskset when present).
// Loader: `wrk` with a Lua script when installed, else a raw-socket keep-alive Node loader;
// 50 connections. Each variant runs KAGIYA_BENCH_RUNS times (default 3), interleaved; medians,
// spread and ratios are printed. KAGIYA_BENCH_QUICK=1: one short run (smoke test);
// KAGIYA_BENCH_LOADER=node: the Node loader even when wrk is installed. KAGIYA_BENCH_VARIANTS=serve,kagiya:
// those (with bare, bare-json and express); KAGIYA_BENCH_STORE: the serve variant's store spec.
//
//   node bench/webhook.bench.ts            (also run by `npm run bench`)
import { fmtCpu, hasCommand, median, medianCpu, pin, rawSocketLoad, runPinned, type LoadResult } from "./lib/loader.ts";
import { measureVariants, RUNS, SECONDS, serveBenchBroker } from "./lib/variants.ts";
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const SELF = import.meta.filename;
const CHANNEL_ID = "1234567890";
const SECRET = "8c570fa6dd201bb328f1c1eac23a96d8";
const CONNECTIONS = 50;
const BODIES = 2000;
const ALL_VARIANTS = ["bare", "bare-json", "kagiya", "kagiya-web", "express", "fastify", "serve", "serve-inbox"] as const;
type Variant = (typeof ALL_VARIANTS)[number];
// KAGIYA_BENCH_VARIANTS=serve runs some only (bare, bare-json and express are always kept: the ratios need them).
const only = process.env["KAGIYA_BENCH_VARIANTS"]?.split(",");
const VARIANTS = ALL_VARIANTS.filter((v) => only === undefined || v === "bare" || v === "bare-json" || v === "express" || only.includes(v));

/** A 1 KB LINE webhook body with one text event, unique webhookEventId per index. */
function body(i: number): string {
  const event = {
    type: "message",
    message: { type: "text", id: String(500000000000000000n + BigInt(i)), quoteToken: "q".repeat(40), text: "" },
    webhookEventId: `01BENCH${String(i).padStart(19, "0")}`,
    deliveryContext: { isRedelivery: false },
    timestamp: 1_700_000_000_000,
    source: { type: "user", userId: "U4af4980629" + "0".repeat(22) },
    replyToken: "r".repeat(32),
    mode: "active",
  };
  const base = JSON.stringify({ destination: "U8e742f61d673b39c7fff3cecb7536ef0", events: [event] }).length;
  event.message.text = "あ".repeat(Math.floor((1024 - base) / 3)) + "a".repeat((1024 - base) % 3);
  return JSON.stringify({ destination: "U8e742f61d673b39c7fff3cecb7536ef0", events: [event] });
}

/** The peers' signature check: node:crypto HMAC over the raw bytes, length guard, constant time. */
function signed(raw: Buffer, header: string | string[] | undefined): boolean {
  const expected = Buffer.from(createHmac("sha256", SECRET).update(raw).digest("base64"));
  const given = Buffer.from(typeof header === "string" ? header : "");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function requests(): Array<{ body: string; signature: string }> {
  return Array.from({ length: BODIES }, (_, i) => {
    const b = body(i);
    return { body: b, signature: createHmac("sha256", SECRET).update(b).digest("base64") };
  });
}

// ---------------------------------------------------------------- servers (child processes)

async function serve(variant: Variant): Promise<void> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void;
  let handled = 0;
  const onEvent = () => void handled++;
  if (variant === "bare") {
    handler = (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        res.statusCode = signed(Buffer.concat(chunks), req.headers["x-line-signature"]) ? 200 : 401;
        res.end();
      });
    };
  } else if (variant === "bare-json") {
    const enqueue = peerQueue(onEvent);
    handler = (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const raw = Buffer.concat(chunks);
        if (!signed(raw, req.headers["x-line-signature"])) res.statusCode = 401;
        else {
          try {
            enqueue((JSON.parse(raw.toString("utf8")) as { events: Array<{ webhookEventId: string }> }).events);
          } catch {
            res.statusCode = 400;
          }
        }
        res.end();
      });
    };
  } else if (variant === "kagiya") {
    const { createNodeWebhookListener } = await import("../src/webhook/adapters/node.ts");
    // dedupTtlMs 1: the loader cycles through BODIES event IDs, and every event must pass the
    // duplicate check and be queued and handled, as fresh events are in production.
    handler = createNodeWebhookListener({ secretFor: (id) => (id === CHANNEL_ID ? SECRET : null), onEvent, dedupTtlMs: 1 });
  } else if (variant === "kagiya-web") {
    const { createWebhookHandler } = await import("../src/webhook/handler.ts");
    const web = createWebhookHandler({ secretFor: (id) => (id === CHANNEL_ID ? SECRET : null), onEvent, dedupTtlMs: 1 });
    handler = (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", async () => {
        const request = new Request(`http://localhost${req.url}`, { method: "POST", headers: req.headers as Record<string, string>, body: Buffer.concat(chunks) });
        const response = await web(request);
        res.writeHead(response.status, Object.fromEntries(response.headers));
        res.end(Buffer.from(await response.arrayBuffer()));
      });
    };
  } else if (variant === "serve" || variant === "serve-inbox") {
    return serveBroker(onEvent, variant === "serve" ? "memory" : "store");
  } else if (variant === "fastify") {
    return serveFastify(peerQueue(onEvent), () => handled);
  } else {
    const express = (await import("express")).default;
    const { middleware } = await import("@line/bot-sdk");
    const app = express();
    const enqueue = peerQueue(onEvent);
    app.post("/webhook/:channelId", middleware({ channelSecret: SECRET }), (req, res) => {
      enqueue((req.body as { events: Array<{ webhookEventId: string }> }).events);
      res.status(200).json({});
    });
    handler = app as unknown as typeof handler;
  }
  const server = createServer({ keepAliveTimeout: 60_000 }, handler);
  server.listen(0, "127.0.0.1", () => {
    const address = server.address() as { port: number };
    process.stdout.write(JSON.stringify({ port: address.port }) + "\n");
  });
  // Report how many events reached the handler, so the table can show that events were queued.
  process.on("SIGTERM", () => {
    process.stdout.write(JSON.stringify({ handled }) + "\n", () => process.exit(0));
  });
}

/**
 * The peers' job after their signature check, the same as kagiya's: a duplicate check (1 ms TTL,
 * like kagiya's here) and a queue drained on the next macrotask.
 */
function peerQueue(onEvent: () => void): (events: Array<{ webhookEventId: string }>) => void {
  const seen = new Map<string, number>();
  const queue: unknown[] = [];
  let scheduled = false;
  const drain = () => {
    scheduled = false;
    for (const _e of queue.splice(0)) onEvent();
  };
  return (events) => {
    for (const e of events) {
      const now = Date.now();
      if ((seen.get(e.webhookEventId) ?? 0) > now) continue;
      seen.set(e.webhookEventId, now + 1);
      if (seen.size > 100_000) seen.clear();
      queue.push(e);
    }
    if (!scheduled && queue.length > 0) {
      scheduled = true;
      setTimeout(drain, 0);
    }
  };
}

/** Fastify with a raw-body parser: signature over the bytes, then JSON.parse, as LINE's docs ask. */
async function serveFastify(enqueue: (events: Array<{ webhookEventId: string }>) => void, handled: () => number): Promise<void> {
  const Fastify = (await import("fastify")).default;
  const app = Fastify({ serverFactory: (h) => createServer({ keepAliveTimeout: 60_000 }, h) });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
  app.post("/webhook/:channelId", async (request, reply) => {
    const body = request.body as Buffer;
    if (!signed(body, request.headers["x-line-signature"])) return reply.code(401).send();
    let parsed: { events?: Array<{ webhookEventId: string }> };
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      return reply.code(400).send();
    }
    enqueue(parsed.events ?? []);
    return reply.code(200).send();
  });
  await app.ready();
  app.server.listen(0, "127.0.0.1", () => {
    process.stdout.write(JSON.stringify({ port: (app.server.address() as { port: number }).port }) + "\n");
  });
  process.on("SIGTERM", () => process.stdout.write(JSON.stringify({ handled: handled() }) + "\n", () => process.exit(0)));
}

/** The full broker on a store (default SQLite in a temporary directory), its channel's secret = SECRET. */
function serveBroker(onEvent: () => void, inbox: "memory" | "store"): Promise<void> {
  return serveBenchBroker(async (registry, privateJwk) => {
    await registry.add({ channelId: CHANNEL_ID, kid: "bench-kid", privateKey: privateJwk as never, channelSecret: SECRET }, { replace: true });
  }, { inbox, onEvent });
}

// ---------------------------------------------------------------- loader (child process)

function load(port: number, seconds: number): Promise<LoadResult> {
  const payloads = requests().map(({ body, signature }) => {
    const b = Buffer.from(body);
    return Buffer.concat([
      Buffer.from(`POST /webhook/${CHANNEL_ID} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json; charset=utf-8\r\nX-Line-Signature: ${signature}\r\nContent-Length: ${b.length}\r\n\r\n`),
      b,
    ]);
  });
  return rawSocketLoad(port, payloads, CONNECTIONS, seconds);
}

// ---------------------------------------------------------------- wrk (when installed)

function wrkScript(dir: string): string {
  const reqs = requests();
  const lua = [
    "local bodies = {}",
    "local sigs = {}",
    ...reqs.map((r, i) => `bodies[${i + 1}] = ${JSON.stringify(r.body).replace(/\\u([0-9a-f]{4})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)))}\nsigs[${i + 1}] = "${r.signature}"`),
    // Requests are formatted once: wrk.format per request would make wrk the bottleneck.
    "local reqs = {}",
    "local n = 0",
    "init = function(args)",
    "  for i = 1, #bodies do",
    `    reqs[i] = wrk.format("POST", "/webhook/${CHANNEL_ID}", { ["Content-Type"] = "application/json; charset=utf-8", ["X-Line-Signature"] = sigs[i] }, bodies[i])`,
    "  end",
    "end",
    "request = function()",
    "  n = n % #reqs + 1",
    "  return reqs[n]",
    "end",
    "done = function(summary, latency, requests)",
    '  io.write(string.format("RESULT %d %f %f %f %d\\n", summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))',
    "end",
  ].join("\n");
  const file = join(dir, "webhook.lua");
  writeFileSync(file, lua);
  return file;
}

// ---------------------------------------------------------------- orchestration


async function runLoader(port: number, seconds: number, lua: string | null): Promise<LoadResult> {
  const argv = lua !== null
    ? ["wrk", "-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, "-s", lua, `http://127.0.0.1:${port}`]
    : [process.execPath, SELF, "--load", String(port), String(seconds)];
  const out = await runPinned(1, argv);
  if (lua === null) return JSON.parse(out.trim().split("\n").pop()!) as LoadResult;
  const m = /RESULT (\d+) ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(out);
  if (!m) throw new Error(`could not read wrk output: ${out}`);
  return { requests: Number(m[1]), seconds: Number(m[2]), p50: Number(m[3]), p99: Number(m[4]), errors: Number(m[5]) };
}


async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "kagiya-bench-"));
  // KAGIYA_BENCH_LOADER=node forces the Node loader even when wrk is installed.
  const lua = process.env["KAGIYA_BENCH_LOADER"] !== "node" && hasCommand("wrk") ? wrkScript(dir) : null;
  console.log(`webhook intake, 1 KB signed body, ${CONNECTIONS} connections, ${SECONDS}s x ${RUNS} runs per variant; loader: ${lua ? "wrk" : "node raw-socket"}; ${pin ? "server on core 0, loader on core 1 (taskset)" : "not pinned (no taskset or one core)"}`);
  let measured: Awaited<ReturnType<typeof measureVariants<Variant>>>;
  try {
    measured = await measureVariants(SELF, VARIANTS, (port, seconds) => runLoader(port, seconds, lua));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const { results, handled } = measured;
  const rps = (v: Variant) => results.get(v)!.map((r) => r.requests / r.seconds);
  const med = Object.fromEntries(VARIANTS.map((v) => [v, median(rps(v))])) as Record<Variant, number>;
  const cpu = Object.fromEntries(VARIANTS.map((v) => [v, medianCpu(results.get(v)!)])) as Record<Variant, number | null>;
  console.log("variant      req/s (median)  spread (min-max)      p99 ms (median)  vs express  vs bare  server CPU us/req  CPU vs bare");
  for (const v of VARIANTS) {
    const xs = rps(v);
    const p99 = median(results.get(v)!.map((r) => r.p99));
    console.log(
      `${v.padEnd(12)} ${med[v].toFixed(0).padStart(14)}  ${`${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}`.padEnd(20)}  ${p99.toFixed(2).padStart(15)}  ${(med[v] / med.express).toFixed(2).padStart(9)}x  ${(med[v] / med.bare).toFixed(2).padStart(6)}x  ${fmtCpu(cpu[v]).padStart(17)}  ${cpu[v] !== null && cpu.bare !== null ? `${(cpu.bare / cpu[v]).toFixed(2)}x`.padStart(11) : "-".padStart(11)}`,
    );
  }
  console.log(`events handled per request (warm-up included; 1.00 = every event passed the duplicate check and was queued): ${VARIANTS.filter((v) => v !== "bare").map((v) => `${v} ${median(handled.get(v)!).toFixed(2)}`).join(", ")}`);
  if (VARIANTS.includes("serve") && VARIANTS.includes("serve-inbox")) {
    console.log(`durable inbox: serve-inbox ${(med["serve-inbox"] / med.serve).toFixed(2)}x serve --inbox memory (same run, same store)`);
  }
  // The in-process handler's targets, and the deployed route's (issue 16: the store's duplicate check included).
  const TARGETS = { kagiya: { express: 1.3, bare: 0.85 }, serve: { express: 1.5, bare: 0.75 } } as const;
  for (const v of (["kagiya", "serve"] as const).filter((x) => VARIANTS.includes(x))) {
    const vsExpress = med[v] / med.express;
    const vsBare = med[v] / med.bare;
    const t = TARGETS[v];
    console.log(`targets (${v}): >= ${t.express.toFixed(2)}x express+bot-sdk: ${vsExpress.toFixed(2)}x ${vsExpress >= t.express ? "MET" : "MISSED"}; >= ${t.bare.toFixed(2)}x bare node:http: ${vsBare.toFixed(2)}x ${vsBare >= t.bare ? "MET" : "MISSED"}; ${(med[v] / med["bare-json"]).toFixed(2)}x bare-json (the same job by hand)`);
  }
}

const [mode, a1, a2] = process.argv.slice(2);
if (mode === "--serve") await serve(a1 as Variant);
else if (mode === "--lua") console.log(wrkScript(a1!)); // writes the wrk script into a directory, for manual runs
else if (mode === "--load") process.stdout.write(JSON.stringify(await load(Number(a1), Number(a2))) + "\n");
else await main();
