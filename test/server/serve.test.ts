// `kagiya serve` as real processes: startup on SQLite, SIGTERM draining, and two instances on one
// shared Redis or PostgreSQL store at a refresh point under load issuing exactly once.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Agent, request as httpRequest } from "node:http";
import { openStore } from "../../src/store/open.ts";
import { ChannelRegistry } from "../../src/store/registry.ts";
import { MasterKey, Sealer, generateMasterKeyText } from "../../src/store/sealed.ts";
import type { TokenPolicyOverrides } from "../../src/store/types.ts";
import { createApiKey } from "../../src/server/apikeys.ts";
import { clearFaults, createTestChannel, injectFault, tokenLedger, type TestChannel, type TestEmulator } from "../helpers/emulator.ts";
import { startEmulatorWithTempDir } from "../helpers/emulator-fixture.ts";
import { DATABASE_URL, REDIS_URL, postgresSkip, randomNamespace, redisSkip } from "../store/services.ts";
import { startServe } from "./serve-process.ts";
import { runCli } from "../helpers/cli.ts";

let emu: TestEmulator;
let dir: string;
let cleanup: () => Promise<void>;
const masterKey = generateMasterKeyText();
before(async () => ({ emu, dir, cleanup } = await startEmulatorWithTempDir("kagiya-serve-")));
after(() => cleanup());

async function register(spec: string, policy?: TokenPolicyOverrides): Promise<{ channel: TestChannel; key: string }> {
  const channel = await createTestChannel(emu.url);
  const store = await openStore(spec);
  try {
    const registry = await ChannelRegistry.open(store, new Sealer(MasterKey.parse(masterKey)));
    await registry.add({ channelId: channel.channelId, kid: channel.kid, privateKey: channel.privateJwk as never, channelSecret: channel.channelSecret, ...(policy ? { policy } : {}) });
    const { key } = await createApiKey(store, { channels: [channel.channelId] });
    return { channel, key };
  } finally {
    await store.close();
  }
}

function getToken(url: string, channelId: string, key: string, agent?: Agent): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/v1/channels/${channelId}/token`, { headers: { authorization: `Bearer ${key}` }, ...(agent ? { agent } : {}) }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d)).on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("kagiya serve on SQLite serves tokens; SIGTERM drains an in-flight request, releases the lock and exits 0", async () => {
  const spec = `sqlite:${join(dir, "a.db")}`;
  const { channel, key } = await register(spec);
  // Every issuance takes 1.5 s at the emulator, so a request is surely in flight at SIGTERM.
  await injectFault(emu.url, { method: "POST", path: "/oauth2/v2.1/token", delayMs: 1500 });
  const env = { KAGIYA_MASTER_KEY: masterKey, KAGIYA_LINE_API_BASE: emu.url, KAGIYA_RATE_LIMIT: "1000" };
  const serve = await startServe(["--store", spec], env, dir);
  try {
    // It says at start which LINE and which store it uses.
    assert.ok(serve.stderr().includes(`kagiya serve: LINE API ${emu.url} (KAGIYA_LINE_API_BASE); sqlite store ${spec}\n`), serve.stderr());
    const inFlight = getToken(serve.url, channel.channelId, key);
    await new Promise((r) => setTimeout(r, 300));
    const code = serve.stop();
    const r = await inFlight;
    assert.equal(r.status, 200);
    assert.equal(r.body.token_type, "Bearer");
    assert.equal(await code, 0, serve.stderr());
    const logs = serve.stdout().trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(logs.some((l) => l.msg === "stopped"), serve.stdout());
    // Nothing left locked, the token stored with its key_id.
    const store = await openStore(spec);
    try {
      const lock = await store.tryLock(`tokens.issue.${channel.channelId}`, 1000);
      assert.notEqual(lock, null);
      await lock!.release();
      assert.equal((await store.getCurrent(channel.channelId)).token?.keyId, r.body.key_id);
    } finally {
      await store.close();
    }
  } finally {
    await clearFaults(emu.url);
    await serve.stop();
  }
});

test("kagiya serve refuses bad flags and a missing master key with one line and exit 2", async () => {
  for (const [args, env] of [[["serve", "--port", "x"], {}], [["serve", "--bogus"], {}], [["serve", "extra"], {}], [["serve"], { KAGIYA_LINE_API_BASE: "api.line.me" }], [["serve", "--max-issue-rate", "0"], {}], [["serve", "--max-issue-rate", "2.5"], {}], [["serve", "--per-channel-metrics", "yes"], {}],
    [["serve", "--inbox", "disk"], {}], [["serve", "--inbox-lease", "5s"], {}], [["serve", "--inbox-lease", "10"], {}], [["serve", "--inbox", "memory", "--inbox-lease", "5000"], {}]] as const) {
    const r = await runCli([...args], { env: { KAGIYA_MASTER_KEY: masterKey, ...env }, cwd: dir });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
  const r = await runCli(["serve", "--store", `sqlite:${join(dir, "b.db")}`], { cwd: dir });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /KAGIYA_MASTER_KEY/);
});

const SHARED_STORES = [
  { name: "Redis", skip: redisSkip, spec: (ns: string) => `${REDIS_URL}?prefix=${ns}:` },
  { name: "PostgreSQL", skip: postgresSkip, spec: (ns: string) => `${DATABASE_URL}?schema=${ns}` },
];

for (const shared of SHARED_STORES) test(`two kagiya serve processes on one ${shared.name} store under load at a refresh point issue exactly once`, async (t) => {
  const skip = await shared.skip();
  if (skip) return t.skip(skip);
  const spec = shared.spec(randomNamespace("serve"));
  // A 60 s token refreshed at 8 % of its life: the refresh point comes 4.8 s after issuance.
  const { channel, key } = await register(spec, { lifetimeSeconds: 60, refreshMin: 0.08, refreshMax: 0.08, minRemainingSeconds: 0, revokeGraceSeconds: 30 });
  const env = { KAGIYA_MASTER_KEY: masterKey, KAGIYA_LINE_API_BASE: emu.url, KAGIYA_RATE_LIMIT: "100000", KAGIYA_LOG_LEVEL: "warn" };
  const [one, two] = await Promise.all([startServe(["--store", spec], env, dir), startServe(["--store", spec], env, dir)]);
  try {
    // Cold start under load from both instances.
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const first = await Promise.all(Array.from({ length: 40 }, (_, i) => getToken(i % 2 ? one!.url : two!.url, channel.channelId, key, agent)));
    for (const r of first) assert.equal(r.status, 200);
    assert.equal(new Set(first.map((r) => r.body.key_id)).size, 1);
    assert.equal((await tokenLedger(emu.url, channel.channelId)).length, 1);
    const issuedAt = (await tokenLedger(emu.url, channel.channelId))[0]!.issuedAt;

    // Keep both instances busy across the refresh point, until one second after a new token shows.
    const seen = new Set<string>();
    let failures = 0;
    let refreshedAt = 0;
    const deadline = Date.now() + 25_000;
    while (Date.now() < deadline) {
      const batch = await Promise.all(Array.from({ length: 16 }, (_, i) => getToken(i % 2 ? one!.url : two!.url, channel.channelId, key, agent)));
      for (const r of batch) {
        if (r.status === 200) seen.add(r.body.key_id);
        else failures++;
      }
      if (refreshedAt === 0 && seen.size > 1) refreshedAt = Date.now();
      if (refreshedAt !== 0 && Date.now() - refreshedAt > 1000) break;
    }
    agent.destroy();
    assert.equal(failures, 0);
    const ledger = await tokenLedger(emu.url, channel.channelId);
    assert.equal(ledger.length, 2, JSON.stringify(ledger.map((r) => [r.key_id, r.issuedAt - issuedAt])));
    assert.deepEqual([...seen].sort(), ledger.map((r) => r.key_id!).sort());
    // The instances' own counters agree: two issuances between them (cold + refresh).
    let issued = 0;
    for (const base of [one!.url, two!.url]) {
      const text = await (await fetch(`${base}/metrics`)).text();
      for (const line of text.split("\n")) if (line.startsWith(`kagiya_token_issuances_total{channel="${channel.channelId}"`)) issued += Number(line.split(" ").pop());
    }
    assert.equal(issued, 2);
  } finally {
    assert.equal(await one!.stop(), 0);
    assert.equal(await two!.stop(), 0);
    const store = await openStore(spec);
    try {
      await (store as unknown as { destroy(): Promise<void> }).destroy();
    } finally {
      await store.close();
    }
  }
});
