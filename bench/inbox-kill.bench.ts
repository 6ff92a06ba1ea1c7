// The durable inbox under SIGKILL: two real `kagiya serve` processes on one store take webhook
// deliveries from the emulator (a process of its own) at INBOX_RATE per second (default 200, one message event each,
// sent to either live instance) while one of them is SIGKILLed at a random moment and started
// again, INBOX_KILLS times (default 100). A delivery that gets no 200 (the instance died) is
// redelivered to the other, as LINE does, with the same webhookEventId and reply token. At the
// end every event answered 200 must be handled: the built-in bot replies to each text message, so
// the emulator's messages are the witness (one reply per reply token). Counted:
//   accepted   events answered 200;
//   handled    events with a reply at LINE (the emulator);
//   lost       accepted but never handled (must be 0);
//   replied twice   reply tokens LINE accepted two replies for;
//   taken over events claimed again after their first claim died with a killed instance (the serve
//              log: "handled again"; such an event may or may not have been handled before the kill);
//   refused    replies LINE refused: "Invalid reply token" is a second handling after a first reply
//              (every event is sent flagged as a redelivery, so its reply token lives 20 minutes).
// Too slow for npm test (100 kills take minutes); run it by hand:
//   node bench/inbox-kill.bench.ts [sqlite|redis|postgres ...]   (default sqlite)
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { mulberry32 } from "../src/core/prng.ts";
import { openStore } from "../src/store/open.ts";
import { ChannelRegistry } from "../src/store/registry.ts";
import { generateMasterKeyText, MasterKey, Sealer } from "../src/store/sealed.ts";
import { startServe, type ServeProcess } from "../test/server/serve-process.ts";

const KILLS = Number(process.env["INBOX_KILLS"] ?? 100);
const RATE = Number(process.env["INBOX_RATE"] ?? 200);
const LEASE_MS = process.env["INBOX_LEASE_MS"] ?? "5000";
const SEED = Number(process.env["INBOX_SEED"] ?? 1);
const MAX_IN_FLIGHT = 100;
const BIN = fileURLToPath(new URL("../bin/kagiya.js", import.meta.url));

/** `kagiya emulator` in a process of its own, so this driver's loop does not slow LINE down. */
async function startEmulatorProcess(): Promise<{ url: string; close(): Promise<void> }> {
  const child = spawn(process.execPath, [BIN, "emulator", "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  child.stderr!.resume();
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      const m = /^(http:\/\/\S+)\n/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`kagiya emulator exited with ${code}`)));
  });
  return {
    url,
    close: () => new Promise<void>((r) => {
      child.once("exit", () => r());
      child.kill("SIGTERM");
    }),
  };
}
const backendsAsked = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["sqlite"];

interface Result {
  backend: string;
  kills: number;
  seconds: number;
  deliveries: number;
  redeliveries: number;
  accepted: number;
  handled: number;
  lost: number;
  repliedTwice: number;
  rerun: number;
  refused: number;
  /** Other warnings and errors of the serve logs, by message. */
  other: Record<string, number>;
  /** Why replies were refused, by error text. */
  refusedWhy: Record<string, number>;
  restartMs: number[];
  failedStarts: string[];
  drainSeconds: number;
}

async function run(backend: string): Promise<Result | string> {
  const emu = await startEmulatorProcess();
  const dir = mkdtempSync(join(tmpdir(), "kagiya-inbox-kill-bench-"));
  const ns = `kagiya_inbox_kill_${randomBytes(4).toString("hex")}`;
  const spec = backend === "sqlite" ? `sqlite:${join(dir, "kagiya.db")}`
    : backend === "redis" ? `${process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379"}?prefix=${ns}:`
    : backend === "postgres" ? `${process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"}?schema=${ns}`
    : null;
  if (spec === null) return `unknown backend ${backend} (sqlite, redis or postgres)`;
  const masterKey = generateMasterKeyText();
  const post = async (path: string, body: unknown): Promise<any> => (await fetch(emu.url + path, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } })).json();
  const instances: Array<ServeProcess | null> = [null, null];
  const logs: string[] = [];
  try {
    const { channelId, channelSecret } = await post("/__emulator/channels", {});
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pub = publicKey.export({ format: "jwk" });
    const { kid } = await post(`/__emulator/channels/${channelId}/keys`, { kty: "RSA", alg: "RS256", use: "sig", n: pub.n, e: pub.e });
    const setup = await openStore(spec);
    try {
      const registry = await ChannelRegistry.open(setup, new Sealer(MasterKey.parse(masterKey)));
      await registry.add({ channelId, kid, privateKey: privateKey.export({ format: "jwk" }) as never, channelSecret });
    } catch (error) {
      await setup.close();
      throw error;
    }
    await setup.close();
    const env = { KAGIYA_MASTER_KEY: masterKey, KAGIYA_LINE_API_BASE: emu.url };
    const args = ["--store", spec, "--inbox-lease", LEASE_MS];
    const restartMs: number[] = [];
    const failedStarts: string[] = [];
    // A start that fails (as a supervisor would see it) is counted and tried again, up to 5 times.
    const start = async (slot: number): Promise<void> => {
      const t = performance.now();
      for (let attempt = 1; ; attempt++) {
        try {
          instances[slot] = await startServe(args, env, dir);
          break;
        } catch (error) {
          failedStarts.push((error as Error).message.split("\n").find((l) => l.startsWith("kagiya:")) ?? (error as Error).message.slice(0, 120));
          if (attempt === 5) throw error;
        }
      }
      restartMs.push(performance.now() - t);
    };
    await Promise.all([start(0), start(1)]);

    // Deliveries: open loop at RATE/s; each event is sent until some instance answers it 200.
    const random = mulberry32(SEED); // the kill moments and targets replay from INBOX_SEED
    const replyTokens: string[] = [];
    let deliveries = 0;
    let redeliveries = 0;
    let accepted = 0;
    let inFlight = 0;
    let seq = 0;
    let turn = 0;
    const live = (): ServeProcess[] => instances.filter((p): p is ServeProcess => p !== null && p.child.exitCode === null && p.child.signalCode === null);
    const send = async (): Promise<void> => {
      const n = seq++;
      const replyToken = `rt${randomBytes(12).toString("hex")}`;
      const event = { type: "message", webhookEventId: `01KB${String(n).padStart(22, "0")}`, replyToken, timestamp: Date.now(), message: { type: "text", id: String(100000 + n), text: `hello ${n}` } };
      replyTokens.push(replyToken);
      inFlight++;
      try {
        for (let attempt = 0; ; attempt++) {
          const targets = live();
          if (targets.length > 0) {
            const target = targets[turn++ % targets.length]!;
            deliveries++;
            if (attempt > 0) redeliveries++;
            // Sent as redeliveries: the emulator then keeps reply tokens for 20 minutes (LINE's
            // window for redelivered events) instead of one, so a reply refused as "Invalid reply
            // token" means the token was used already (a second handling), not that handling lagged.
            const r = await post("/__emulator/webhooks", { channelId, url: `${target.url}/webhook/${channelId}`, events: [event], redelivery: true }).catch(() => null);
            if (r?.status === 200) {
              accepted++;
              return;
            }
          }
          await sleep(50);
        }
      } finally {
        inFlight--;
      }
    };
    let driving = true;
    const pending = new Set<Promise<void>>();
    const started = performance.now();
    const driver = (async () => {
      let next = performance.now();
      while (driving) {
        next += 1000 / RATE;
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
        if (inFlight >= MAX_IN_FLIGHT) continue;
        const p = send();
        pending.add(p);
        void p.finally(() => pending.delete(p));
      }
    })();

    // Kills: wait 0.2-1.2 s with both up, SIGKILL one (chosen by the seed), start it again.
    let kills = 0;
    while (kills < KILLS) {
      await sleep(200 + random() * 1000);
      const slot = random() < 0.5 ? 0 : 1;
      const victim = instances[slot]!;
      victim.child.kill("SIGKILL");
      await new Promise((r) => (victim.child.exitCode !== null || victim.child.signalCode !== null ? r(null) : victim.child.once("exit", r)));
      logs.push(victim.stdout());
      kills++;
      await start(slot);
    }
    driving = false;
    await driver;
    await Promise.all(pending);
    const seconds = (performance.now() - started) / 1000;

    // Drain: every accepted event handled (or 120 s).
    const drainStart = performance.now();
    const replies = async (): Promise<Map<string, number>> => {
      const body = (await (await fetch(`${emu.url}/__emulator/messages?channelId=${channelId}`)).json()) as { messages: Array<{ replyToken?: string }> };
      const messages = body.messages;
      const per = new Map<string, number>();
      for (const m of messages) if (m.replyToken !== undefined) per.set(m.replyToken, (per.get(m.replyToken) ?? 0) + 1);
      return per;
    };
    let per = await replies();
    while (replyTokens.some((t) => !per.has(t)) && performance.now() - drainStart < 120_000) {
      await sleep(500);
      per = await replies();
    }
    const drainSeconds = (performance.now() - drainStart) / 1000;
    for (const p of instances) {
      if (p === null) continue;
      await p.stop();
      logs.push(p.stdout());
    }
    const lines = logs.join("\n").split("\n").filter(Boolean).map((l) => {
      try {
        return JSON.parse(l) as { msg?: string; err?: unknown; level?: unknown };
      } catch {
        return {};
      }
    });
    const handled = replyTokens.filter((t) => per.has(t)).length;
    const tally = (xs: string[]): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const x of xs) out[x] = (out[x] ?? 0) + 1;
      return out;
    };
    const known = new Set(["webhook event handled again: its earlier handling did not finish", "bot handler failed"]);
    const warned = lines.filter((l) => typeof l.msg === "string" && !known.has(l.msg) && (l.level === "warn" || l.level === "error" || l.level === 40 || l.level === 50));
    return {
      backend,
      kills,
      seconds,
      deliveries,
      redeliveries,
      accepted,
      handled,
      lost: accepted - handled,
      repliedTwice: replyTokens.filter((t) => (per.get(t) ?? 0) > 1).length,
      rerun: lines.filter((l) => l.msg === "webhook event handled again: its earlier handling did not finish").length,
      refused: lines.filter((l) => l.msg === "bot handler failed").length,
      other: tally(warned.map((l) => l.msg!)),
      refusedWhy: tally(lines.filter((l) => l.msg === "bot handler failed").map((l) => JSON.stringify(l.err).slice(0, 160))),
      restartMs: restartMs.slice(2),
      failedStarts,
      drainSeconds,
    };
  } catch (error) {
    return `${backend}: ${(error as Error).message.split("\n")[0]}`;
  } finally {
    for (const p of instances) if (p !== null && p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
    const store = await openStore(spec).catch(() => null);
    if (store !== null) {
      await (store as { destroy?: () => Promise<void> }).destroy?.().catch(() => {});
      await store.close();
    }
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`inbox under SIGKILL: ${KILLS} kills, ${RATE} deliveries/s offered, lease ${LEASE_MS} ms, seed ${SEED}`);
for (const b of backendsAsked) {
  const r = await run(b);
  if (typeof r === "string") {
    console.log(`skipped: ${r}`);
    continue;
  }
  console.log(
    `${r.backend}: kills ${r.kills} in ${r.seconds.toFixed(0)} s; deliveries ${r.deliveries} (${(r.deliveries / r.seconds).toFixed(0)}/s, ${r.redeliveries} of them sent again after no 200); ` +
      `events accepted ${r.accepted}, handled ${r.handled}, lost ${r.lost}, replied twice ${r.repliedTwice}; taken over after a kill ${r.rerun}, second reply refused ${r.refused}; drained in ${r.drainSeconds.toFixed(1)} s`,
  );
  const ms = [...r.restartMs].sort((a, b) => a - b);
  if (ms.length > 0) console.log(`  serve restart: median ${ms[Math.floor(ms.length / 2)]!.toFixed(0)} ms (${ms[0]!.toFixed(0)}-${ms[ms.length - 1]!.toFixed(0)})`);
  if (r.failedStarts.length > 0) console.log(`  serve starts that failed (tried again): ${r.failedStarts.length}: ${[...new Set(r.failedStarts)].join(" | ")}`);
  for (const [why, n] of Object.entries(r.refusedWhy)) console.log(`  reply refused x${n}: ${why}`);
  for (const [msg, n] of Object.entries(r.other)) console.log(`  log x${n}: ${msg}`);
  if (r.lost !== 0) process.exitCode = 1;
}
