// Three brokers, each in its own process, on one store (Redis and PostgreSQL), many channels, on the
// emulator's clock moved across two full refresh cycles. Mid-way through the first, one instance is
// SIGKILLed while it holds issue locks: its token requests are held at a proxy in front of the
// emulator (so they never reach LINE) and it is killed with them in flight. The other two take its
// work once its locks' TTL ends and do the second cycle alone: every channel is refreshed exactly
// once per cycle (the emulator's ledger is the witness: one more token per channel and cycle, the
// one before revoked after its grace), no token read fails, and no emulated second holds more
// issuances than --max-issue-rate.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, request as httpRequest, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { openStore } from "../../src/store/open.ts";
import { ChannelRegistry } from "../../src/store/registry.ts";
import { MasterKey, Sealer, generateMasterKeyText } from "../../src/store/sealed.ts";
import { advanceClock, startTestEmulator, tokenLedgers } from "../helpers/emulator.ts";
import { DATABASE_URL, REDIS_URL, postgresSkip, randomNamespace, redisSkip } from "../store/services.ts";
import { busiestSecond, registerChannels } from "./scale-fixture.ts";
import { testApiKey } from "./helpers.ts";

/**
 * 500 in the suite (issue 16's size). Each instance is one process on the 2-core machine the suite
 * runs on: the work (1,500 issuances, 1,000 revocations, 4,500 token reads) is what takes the time,
 * so the cap is set where it still binds (the busiest seconds reached it in the runs measured)
 * without being the whole pace.
 */
const CHANNELS = Number(process.env["KAGIYA_SCALE_KILL_CHANNELS"] ?? 500);
const RATE = 80;
const LOCK_TTL_MS = 3000;
const WORKER = fileURLToPath(new URL("./scale-worker.ts", import.meta.url));

/** Polls `f` every 100 ms (each poll reads every channel's ledger from the emulator: not more often). */
async function until(what: string, f: () => Promise<boolean>, tries = 900): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

interface Worker {
  child: ChildProcess;
  url: string;
  /** Sends a message and resolves with the next answer carrying `field`. */
  ask<T>(message: object, field: string): Promise<T>;
}

async function spawnWorker(config: object): Promise<Worker> {
  const child = spawn(process.execPath, [WORKER, JSON.stringify(config)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const waiting: Array<{ field: string; resolve: (m: any) => void; reject: (e: Error) => void }> = [];
  child.on("message", (m: Record<string, unknown>) => {
    const i = waiting.findIndex((w) => w.field in m);
    if (i >= 0) waiting.splice(i, 1)[0]!.resolve(m);
  });
  child.once("exit", (code, signal) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`worker exited (${code ?? signal})`));
  });
  const next = (field: string) => new Promise<any>((resolve, reject) => void waiting.push({ field, resolve, reject }));
  const ready = await next("ready");
  return {
    child,
    url: ready.url as string,
    ask: (message, field) => {
      const answer = next(field);
      child.send(message);
      return answer;
    },
  };
}

/** An HTTP proxy to the emulator that, once `hold` is on, keeps token requests without forwarding them. */
async function startHoldProxy(target: string) {
  const to = new URL(target);
  const parked = new Set<ServerResponse>();
  const heldFor = new Set<string>();
  let hold = false;
  const server = createServer((req, res) => {
    if (hold && req.method === "POST" && req.url?.split("?")[0] === "/oauth2/v2.1/token") {
      parked.add(res);
      res.once("close", () => parked.delete(res));
      // Which channel asked: the assertion's issuer.
      let body = "";
      req.setEncoding("utf8").on("data", (d: string) => (body += d)).on("end", () => {
        const jwt = new URLSearchParams(body).get("client_assertion") ?? "";
        heldFor.add((JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString() || "{}") as { iss?: string }).iss ?? "?");
      });
      return;
    }
    const up = httpRequest({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hold: () => void (hold = true),
    /** Token requests held now. */
    parked: () => parked.size,
    /** The channels whose token requests were held. */
    heldFor,
    close: () => {
      for (const res of parked) res.destroy();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const BACKENDS = [
  { name: "Redis", skip: redisSkip, spec: (ns: string) => `${REDIS_URL}?prefix=${ns}:` },
  { name: "PostgreSQL", skip: postgresSkip, spec: (ns: string) => `${DATABASE_URL}?schema=${ns}` },
];
const skips = await Promise.all(BACKENDS.map((b) => b.skip()));

for (const [at, backend] of BACKENDS.entries()) {
  test(`${backend.name}: ${CHANNELS} channels, three broker processes; two refresh cycles, one SIGKILLed holding issue locks mid-cycle, the others finish its work: each channel refreshed once per cycle, no read fails, never above the cap`, { skip: skips[at]! }, async () => {
    const emu = await startTestEmulator();
    const proxy = await startHoldProxy(emu.url);
    const spec = backend.spec(randomNamespace("scalekill"));
    const masterKey = generateMasterKeyText();
    const store = await openStore(spec);
    const workers: Worker[] = [];
    let offsetMs = 0;
    // The emulator's clock first, then every live instance's (as TestClock does in-process).
    const advance = async (seconds: number) => {
      await advanceClock(emu.url, seconds);
      offsetMs += seconds * 1000;
      await Promise.all(workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null).map((w) => w.ask({ offsetMs }, "ack")));
    };
    let failedReads = 0;
    const failures: string[] = [];
    let reads = 0;
    try {
      await store.migrate();
      const registry = await ChannelRegistry.open(store, new Sealer(MasterKey.parse(masterKey)));
      const ids = await registerChannels(emu.url, registry, CHANNELS);
      // Ten API keys, so the sweeps of reads stay under each key's own rate limit (50/s per instance).
      const keys = await Promise.all(Array.from({ length: 10 }, async () => (await testApiKey(store, ids)).key));
      const config = { spec, masterKey, lineApiBase: emu.url, rate: RATE, lockTtlMs: LOCK_TTL_MS };
      // Started together: the first ones ready begin the warm-up while the others load.
      workers.push(...(await Promise.all([spawnWorker(config), spawnWorker(config), spawnWorker({ ...config, lineApiBase: proxy.url })])));
      const victim = workers[2]!;
      const live = () => workers.filter((w) => w !== victim || victim.child.signalCode === null);
      // Every channel read through the token API of a live instance (round robin), 16 at a time.
      const readAll = async () => {
        const brokers = live();
        let next = 0;
        await Promise.all(Array.from({ length: 16 }, async () => {
          while (next < ids.length) {
            const i = next++;
            const res = await fetch(`${brokers[i % brokers.length]!.url}/v1/channels/${ids[i]}/token`, { headers: { authorization: `Bearer ${keys[i % keys.length]}` } });
            const text = await res.text();
            reads++;
            if (res.status !== 200 && failedReads++ < 3) failures.push(`${res.status} ${text.slice(0, 200)}`);
          }
        }));
      };

      // Warm-up: one first token per channel across the three.
      await until("every first token", async () => [...(await tokenLedgers(emu.url, ids)).values()].every((rows) => rows.length >= 1));
      let all = await tokenLedgers(emu.url, ids);
      for (const [id, rows] of all) assert.equal(rows.length, 1, `${id} issued ${rows.length} times at start-up`);
      await readAll();

      const emuNow = async () => (await (await fetch(`${emu.url}/__emulator/clock`)).json() as { now: number }).now;
      let victimRefreshes = -1;
      // Two refresh cycles, each in 6-hour steps across the refresh window (70-80 % of the 7-day
      // lifetime) of the tokens then valid; in the first, the victim is killed at the third step.
      for (let cycle = 1; cycle <= 2; cycle++) {
        const valid = [...all.values()].map((rows) => rows.find((r) => r.state === "valid")!);
        const lifetime = valid[0]!.expiresAt - valid[0]!.issuedAt;
        const due = valid.map((r) => r.issuedAt + 0.8 * lifetime);
        await advance(Math.floor((Math.min(...valid.map((r) => r.issuedAt + 0.7 * lifetime)) - (await emuNow())) / 1000) - 60);
        let step = 0;
        while ((await emuNow()) < Math.max(...due) + 60_000) {
          step++;
          const kill = cycle === 1 && step === 3;
          // The victim's token requests are held from now on; once it holds some, it is killed.
          if (kill) proxy.hold();
          await advance(6 * 3600);
          const now = await emuNow();
          // Refresh points are jittered within the window: at least those past 80 % are done.
          const passed = due.filter((at) => at <= now).length;
          if (kill) {
            await until("the victim holding issue locks", async () => proxy.parked() >= 2);
            victimRefreshes = (await victim.ask<{ issued: Record<string, number> }>({ report: true }, "issued")).issued["refresh"] ?? 0;
            victim.child.kill("SIGKILL");
            await new Promise((r) => (victim.child.signalCode !== null ? r(null) : victim.child.once("exit", r)));
          }
          // Reads go on while the refreshes of the step are made.
          await Promise.all([readAll(), until(`${passed} refreshes in cycle ${cycle}`, async () => {
            const now = [...(await tokenLedgers(emu.url, ids))];
            // A second issuance in the cycle fails at once, not after the wait.
            for (const [id, rows] of now) assert.ok(rows.length <= cycle + 1, `${id} issued ${rows.length} times by cycle ${cycle}`);
            return now.filter(([, rows]) => rows.length > cycle).length >= passed;
          })]);
        }
        assert.ok(step >= 3, `the walk took ${step} steps`);
        // Past every grace: every superseded token is revoked; each channel was issued exactly once more.
        await advance(3600);
        await until(`revocations in cycle ${cycle}`, async () => [...(await tokenLedgers(emu.url, ids)).values()].every((rows) => rows.filter((r) => r.state === "revoked").length >= cycle));
        all = await tokenLedgers(emu.url, ids);
        for (const [id, rows] of all) {
          assert.equal(rows.length, cycle + 1, `${id} issued ${rows.length} times by the end of cycle ${cycle}`);
          assert.deepEqual(rows.map((r) => r.state).filter((st) => st === "valid"), ["valid"], id);
        }
        assert.ok(busiestSecond(all) <= RATE, `${busiestSecond(all)} issuances in one emulated second (cap ${RATE})`);
      }
      assert.equal(failedReads, 0, `${failedReads} of ${reads} token reads failed: ${failures.join("; ")}`);
      // The refreshes: the victim's before it died plus the survivors' make one per channel and cycle.
      const survivors = await Promise.all(workers.slice(0, 2).map(async (w) => (await w.ask<{ issued: Record<string, number> }>({ report: true }, "issued")).issued["refresh"] ?? 0));
      assert.equal(survivors[0]! + survivors[1]! + victimRefreshes, 2 * CHANNELS, `refreshes: survivors ${survivors}, victim ${victimRefreshes}`);
      assert.ok(survivors.every((n) => n > CHANNELS / 4), `refreshes per survivor: ${survivors}`);
      // The refreshes the victim died in were finished by a survivor (its scheduler, or a read that
      // reached the refresh point first), which first looked for a token the victim might have got
      // (its issue intent was left behind) and found none.
      assert.ok(proxy.heldFor.size >= 2, `held: ${[...proxy.heldFor]}`);
      for (const id of proxy.heldFor) {
        const audit = await store.listAudit({ channelId: id, limit: 50 });
        assert.ok(audit.some((r) => r.action === "token.reconcile" && (r.detail ?? "").includes("orphans=0")), `${id}: ${JSON.stringify(audit.map((r) => [r.action, r.actor, r.detail]))}`);
        assert.ok(audit.some((r) => r.action === "token.refresh"), id);
      }
    } finally {
      await Promise.all(workers.map(async (w) => {
        if (w.child.exitCode !== null || w.child.signalCode !== null) return;
        const exited = new Promise((r) => w.child.once("exit", r));
        w.child.send({ stop: true });
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        w.child.kill("SIGKILL");
      }));
      const s = store as { destroy?: () => Promise<void> };
      await s.destroy?.().catch(() => {});
      await store.close();
      await proxy.close();
      await emu.close();
    }
  });
}
