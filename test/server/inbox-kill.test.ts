// The durable webhook inbox across SIGKILL: a real `kagiya serve` answers deliveries 200 while its
// handler is blocked (the emulator holds every reply), is killed with SIGKILL, and two new
// instances on the same store (SQLite file, Redis, PostgreSQL) handle every accepted event: one
// reply per reply token at the emulator, and no reply refused as already used (which is what a
// second, concurrent handling of an event would cause) although each handler outlives the lease.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openStore } from "../../src/store/open.ts";
import { ChannelRegistry } from "../../src/store/registry.ts";
import { MasterKey, Sealer, generateMasterKeyText } from "../../src/store/sealed.ts";
import { clearFaults, createTestChannel, deliverTestWebhook, injectFault, sentMessages, type TestEmulator } from "../helpers/emulator.ts";
import { startEmulatorWithTempDir } from "../helpers/emulator-fixture.ts";
import { DATABASE_URL, REDIS_URL, postgresSkip, randomNamespace, redisSkip } from "../store/services.ts";
import { startServe, type ServeProcess } from "./serve-process.ts";

let emu: TestEmulator;
let dir: string;
let cleanup: () => Promise<void>;
const masterKey = generateMasterKeyText();
before(async () => ({ emu, dir, cleanup } = await startEmulatorWithTempDir("kagiya-inbox-kill-")));
after(() => cleanup());

const DELIVERIES = 30;
// Long enough that a loaded machine still extends it in time; far shorter than the 15 s held replies.
const LEASE_MS = "4000";
const REPLY = "/v2/bot/message/reply";

const BACKENDS = [
  { name: "SQLite file", skip: async () => false as const, spec: (ns: string) => `sqlite:${join(dir, `${ns}.db`)}` },
  { name: "Redis", skip: redisSkip, spec: (ns: string) => `${REDIS_URL}?prefix=${ns}:` },
  { name: "PostgreSQL", skip: postgresSkip, spec: (ns: string) => `${DATABASE_URL}?schema=${ns}` },
];

function logLines(p: ServeProcess): Array<Record<string, unknown>> {
  return p.stdout().trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

// Probed before any test is declared: a top-level await between declarations would let the
// file-level after() run early when a name pattern filters the first test out.
const skips = await Promise.all(BACKENDS.map((b) => b.skip()));

for (const [at, backend] of BACKENDS.entries()) {
  test(`${backend.name}: every event answered 200 before a SIGKILL is handled after the restart, once at a time`, { skip: skips[at]! }, async () => {
    const spec = backend.spec(randomNamespace("inbox"));
    const channel = await createTestChannel(emu.url);
    const setup = await openStore(spec);
    try {
      const registry = await ChannelRegistry.open(setup, new Sealer(MasterKey.parse(masterKey)));
      await registry.add({ channelId: channel.channelId, kid: channel.kid, privateKey: channel.privateJwk as never, channelSecret: channel.channelSecret });
    } finally {
      await setup.close();
    }
    const env = { KAGIYA_MASTER_KEY: masterKey, KAGIYA_LINE_API_BASE: emu.url };
    const args = ["--store", spec, "--inbox-lease", LEASE_MS];
    const running: ServeProcess[] = [];
    try {
      // 1. The first instance's handlers are stuck: LINE holds every reply for 15 s.
      await injectFault(emu.url, { method: "POST", path: REPLY, delayMs: 15_000 });
      const first = await startServe(args, env, dir);
      running.push(first);
      const tokens: string[] = [];
      for (let i = 0; i < DELIVERIES; i += 10) {
        const answers = await Promise.all(Array.from({ length: 10 }, (_, j) => deliverTestWebhook(emu.url, {
          channelId: channel.channelId,
          url: `${first.url}/webhook/${channel.channelId}`,
          events: [0, 1].map((k) => ({ type: "message", message: { type: "text", id: `${i + j}-${k}`, text: `hello ${i + j}.${k}` } })),
        })));
        for (const a of answers) {
          assert.equal(a.status, 200);
          tokens.push(...a.replyTokens);
        }
      }
      assert.equal(tokens.length, DELIVERIES * 2);
      first.child.kill("SIGKILL");
      await new Promise((r) => (first.child.exitCode !== null || first.child.signalCode !== null ? r(null) : first.child.once("exit", r)));
      const mine = async () => (await sentMessages(emu.url, channel.channelId)).filter((m) => tokens.includes(m.replyToken));
      assert.equal((await mine()).length, 0, "nothing was handled before the kill");

      // 2. Two new instances on the same store; the first 20 replies take longer than the lease,
      //    so only the lease extension keeps the other instance off an event being handled.
      await clearFaults(emu.url);
      await injectFault(emu.url, { method: "POST", path: REPLY, delayMs: 2_500, count: 20 });
      running.push(...(await Promise.all([startServe(args, env, dir), startServe(args, env, dir)])));
      const deadline = Date.now() + 60_000;
      let replied = await mine();
      while (replied.length < tokens.length && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        replied = await mine();
      }
      const perToken = new Map<string, number>();
      for (const m of replied) perToken.set(m.replyToken, (perToken.get(m.replyToken) ?? 0) + 1);
      assert.deepEqual(tokens.filter((t) => perToken.get(t) !== 1), [], "every accepted event replied to exactly once");
      for (const p of running.slice(1)) assert.equal(await p.stop(), 0, p.stderr());
      const logs = running.slice(1).flatMap(logLines);
      // A second handling while the first runs would show as a refused reply (its token used) or a lease lost.
      const twice = /bot handler failed|webhook event handler failed|lease lost|lease had passed/;
      assert.deepEqual(logs.filter((l) => twice.test(String(l["msg"]))), [], "no event handled twice at once");
      assert.ok(logs.some((l) => l["msg"] === "webhook event handled again: its earlier handling did not finish"), "the killed instance's events were taken over");
    } finally {
      await clearFaults(emu.url);
      for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
      const store = await openStore(spec);
      await (store as { destroy?: () => Promise<void> }).destroy?.();
      await store.close();
    }
  });
}
