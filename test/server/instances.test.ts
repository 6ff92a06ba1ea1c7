// Two instances on one SQLite file with the same master key, as `kagiya serve` runs them: each
// accepts the other's dashboard session, a logout on one ends it on both, and a delivery replayed
// to both is handled once. Cookies signed under another master key, altered or expired are refused.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createSecretKey, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { ChannelRegistry } from "../../src/store/registry.ts";
import { MasterKey, Sealer } from "../../src/store/sealed.ts";
import { startBroker, type RunningBroker } from "../../src/server/broker.ts";
import { AdminAuth, createAdminToken, MIN_ADMIN_TOKEN_LENGTH, SESSION_COOKIE } from "../../src/server/admin.ts";
import { startServer } from "../../src/server/server.ts";
import { startTestBroker, request, type TestBroker } from "./helpers.ts";
import { runCli } from "../helpers/cli.ts";
import { deliverTestWebhook, sentMessages } from "../helpers/emulator.ts";

const ADMIN = "kadm_" + "s".repeat(40);
let dir: string;
let a: TestBroker;
let b: RunningBroker;
let bStore: SqliteStore;
const bLogs: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "kagiya-sessions-"));
  const file = join(dir, "shared.db");
  a = await startTestBroker({ store: new SqliteStore({ path: file }), server: { adminToken: ADMIN } });
  // A second instance: its own connection to the same file, the same master key.
  bStore = new SqliteStore({ path: file });
  await bStore.migrate();
  const registry = await ChannelRegistry.open(bStore, new Sealer(MasterKey.parse(a.masterKey)));
  const collect = new Writable({ write: (c: Buffer, _e, cb) => (bLogs.push(...c.toString("utf8").split("\n").filter(Boolean)), cb()) });
  b = await startBroker({ registry, lineApiBase: a.emu.url, adminToken: ADMIN, scheduler: false, log: { level: "warn", destination: collect } });
});

after(async () => {
  await b.close();
  await bStore.close();
  await a.close();
  rmSync(dir, { recursive: true, force: true });
});

const login = (url: string) => loginWith(url, ADMIN);

async function loginWith(url: string, token: string): Promise<{ cookie: string; csrf: string }> {
  const r = await request(`${url}/ui/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token }) });
  assert.equal(r.status, 200, r.text);
  return { cookie: r.headers.get("set-cookie")!.split(";")[0]!, csrf: r.body.csrfToken };
}

const session = (url: string, cookie: string) => request(`${url}/ui/api/session`, { headers: { cookie } });

test("a session started on one instance works on the other, CSRF included; logging out on one ends it on both", async () => {
  const s = await login(a.url);
  const onB = await session(b.url, s.cookie);
  assert.equal(onB.status, 200, onB.text);
  assert.equal(onB.body.csrfToken, s.csrf);
  // A state-changing request on B with the CSRF token A handed out.
  const created = await request(`${b.url}/ui/api/apikeys`, {
    method: "POST",
    headers: { cookie: s.cookie, "x-csrf-token": s.csrf, "content-type": "application/json" },
    body: JSON.stringify({ name: "from-b", channels: [a.channels[0]!.channelId] }),
  });
  assert.equal(created.status, 201, created.text);
  const wrongCsrf = await request(`${b.url}/ui/api/logout`, { method: "POST", headers: { cookie: s.cookie, "x-csrf-token": s.csrf.slice(0, -1) + (s.csrf.endsWith("A") ? "B" : "A"), "content-type": "application/json" }, body: "{}" });
  assert.equal(wrongCsrf.status, 403);
  assert.equal(wrongCsrf.body.error, "ERR_CSRF");

  const other = await login(b.url);
  const out = await request(`${b.url}/ui/api/logout`, { method: "POST", headers: { cookie: s.cookie, "x-csrf-token": s.csrf, "content-type": "application/json" }, body: "{}" });
  assert.equal(out.status, 200, out.text);
  for (const url of [a.url, b.url]) {
    const r = await session(url, s.cookie);
    assert.equal(r.status, 401, `${url}: ${r.text}`);
    assert.equal(r.body.error, "ERR_UNAUTHORIZED");
    // Another session is untouched.
    assert.equal((await session(url, other.cookie)).status, 200);
  }
});

test("cookies signed under another master key, altered in any part, or expired are refused", async () => {
  const s = await login(a.url);
  const value = s.cookie.slice(SESSION_COOKIE.length + 1);
  const [id, exp, mac] = value.split(".") as [string, string, string];
  const flip = (text: string) => text.slice(0, -1) + (text.endsWith("A") ? "B" : "A");
  const later = (parseInt(exp, 36) + 3600_000).toString(36);
  for (const forged of [`${flip(id)}.${exp}.${mac}`, `${id}.${later}.${mac}`, `${id}.${exp}.${flip(mac)}`, `${id}.${exp}`, `${id}..${mac}`, value + "A"]) {
    const r = await session(a.url, `${SESSION_COOKIE}=${forged}`);
    assert.equal(r.status, 401, forged);
  }
  // An instance with another master key (another deployment) does not accept it.
  const emuUrl = a.emu.url;
  const store = new MemoryStore();
  const registry = await ChannelRegistry.open(store, new Sealer(MasterKey.parse("11".repeat(32))));
  const quiet = new Writable({ write: (_c, _e, cb) => cb() });
  const c = await startBroker({ registry, lineApiBase: emuUrl, adminToken: ADMIN, scheduler: false, log: { level: "warn", destination: quiet } });
  try {
    assert.equal((await session(c.url, s.cookie)).status, 401);
  } finally {
    await c.close();
  }
  // Expiry, on a clock moved past the session's end.
  let now = Date.now();
  const auth = new AdminAuth(new MemoryStore(), { envToken: ADMIN, sessionTtlMs: 60_000, now: () => now });
  const started = await auth.login(ADMIN);
  assert.ok(started);
  const cookie = auth.cookie(started, false).split(";")[0]!;
  assert.equal((await auth.session(cookie))?.id, started.id);
  // The same signing key with another KAGIYA_ADMIN_TOKEN (rotated, or removed): the cookie is dead.
  const key = createSecretKey(randomBytes(32));
  const before = new AdminAuth(new MemoryStore(), { envToken: ADMIN, sessionKey: key, now: () => now });
  const kept = before.cookie((await before.login(ADMIN))!, false).split(";")[0]!;
  assert.ok(await new AdminAuth(new MemoryStore(), { envToken: ADMIN, sessionKey: key, now: () => now }).session(kept), "same key, same token: accepted");
  assert.equal(await new AdminAuth(new MemoryStore(), { envToken: ADMIN + "2", sessionKey: key, now: () => now }).session(kept), null);
  assert.equal(await new AdminAuth(new MemoryStore(), { sessionKey: key, now: () => now }).session(kept), null);
  now += 60_000;
  assert.equal(await auth.session(cookie), null);
});

test("an admin token from configuration shorter than the minimum is refused at start-up", async () => {
  const short = "x".repeat(MIN_ADMIN_TOKEN_LENGTH - 1);
  const r = await runCli(["serve", "--store", `sqlite:${join(dir, "short.db")}`], { env: { KAGIYA_MASTER_KEY: a.masterKey, KAGIYA_ADMIN_TOKEN: short }, cwd: dir });
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /KAGIYA_ADMIN_TOKEN is too short \(23 characters\)/);
  assert.ok(!r.stderr.includes(short));
  await assert.rejects(startServer({ store: new MemoryStore(), tokens: a.broker.manager, adminToken: short, scheduler: false }), (e: Error & { code?: string }) => e.code === "ERR_SERVER_CONFIG");
});

test("a delivery replayed 500 times to each of two instances is handled once between them: one reply", async () => {
  const [ch] = a.channels;
  const first = await deliverTestWebhook(a.emu.url, { channelId: ch!.channelId, url: `${a.url}/webhook/${ch!.channelId}`, events: [{ type: "message", message: { type: "text", id: "1", text: "twice?" } }] });
  assert.equal(first.status, 200);
  for (let i = 0; i < 1000; i += 100) {
    const replies = await Promise.all(Array.from({ length: 100 }, (_, j) =>
      request(`${(i + j) % 2 ? a.url : b.url}/webhook/${ch!.channelId}`, { method: "POST", body: first.body, headers: { "content-type": "application/json", "x-line-signature": first.signature } })));
    for (const r of replies) assert.equal(r.status, 200);
  }
  await a.broker.drainWebhooks();
  await b.drainWebhooks();
  const sent = (await sentMessages(a.emu.url, ch!.channelId)).filter((m) => m.replyToken === first.replyTokens[0]);
  assert.equal(sent.length, 1);
  // A second handling anywhere would have tried the used reply token and logged the failure.
  const failures = [...a.logs, ...bLogs].filter((l) => l.includes("handler failed"));
  assert.deepEqual(failures, []);
});

test("a new stored admin token (kagiya admin token) ends every session on every instance", async () => {
  const stored = await createAdminToken(a.store);
  const viaStored = await loginWith(a.url, stored);
  const viaEnv = await login(b.url);
  for (const url of [a.url, b.url]) assert.equal((await session(url, viaStored.cookie)).status, 200);
  const rotated = await createAdminToken(bStore);
  await new Promise((r) => setTimeout(r, 1100)); // instances re-read the stored token's hash once a second
  for (const url of [a.url, b.url]) {
    assert.equal((await session(url, viaStored.cookie)).status, 401, url);
    assert.equal((await session(url, viaEnv.cookie)).status, 401, url);
  }
  assert.equal((await request(`${a.url}/ui/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: stored }) })).status, 401);
  const fresh = await loginWith(b.url, rotated);
  assert.equal((await session(a.url, fresh.cookie)).status, 200);
});
