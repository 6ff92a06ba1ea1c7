import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../helpers/cli.ts";
import { createTestChannel, issueTestToken, tokenLedger, type TestChannel, type TestEmulator } from "../helpers/emulator.ts";
import { startEmulatorWithTempDir } from "../helpers/emulator-fixture.ts";
import { generateMasterKeyText } from "../../src/store/sealed.ts";
import { allBackends } from "../tokens/backends.ts";

let emu: TestEmulator;
let dir: string;
let cleanup: () => Promise<void>;
const masterKey = generateMasterKeyText();
before(async () => ({ emu, dir, cleanup } = await startEmulatorWithTempDir("kagiya-cli-token-")));
after(() => cleanup());

const env = (extra: Record<string, string> = {}): Record<string, string> => ({ KAGIYA_MASTER_KEY: masterKey, KAGIYA_LINE_API_BASE: emu.url, S: "", ...extra });

async function registered(cwd: string, store: string[]): Promise<TestChannel> {
  const ch = await createTestChannel(emu.url);
  const key = join(cwd, `${ch.channelId}.jwk.json`);
  writeFileSync(key, JSON.stringify({ ...ch.privateJwk, alg: "RS256", use: "sig" }), { mode: 0o600 });
  const r = await runCli(["channel", "add", "--id", ch.channelId, "--kid", ch.kid, "--key", key, "--secret-env", "S", ...store], { cwd, env: env({ S: ch.channelSecret }) });
  assert.equal(r.code, 0, r.stderr);
  return ch;
}

test("token get prints the token alone; issue, list, revoke KEY_ID, revoke --all, reconcile (SQLite by default)", async () => {
  const cwd = mkdtempSync(join(dir, "a-"));
  const ch = await registered(cwd, []);
  const id = ch.channelId;
  const get = await runCli(["token", "get", id], { cwd, env: env() });
  assert.equal(get.code, 0, get.stderr);
  let ledger = await tokenLedger(emu.url, id);
  assert.equal(ledger.length, 1);
  assert.equal(get.stdout, `${ledger[0]!.access_token}\n`, "the token and nothing else");
  // A second get reuses the stored token.
  const get2 = await runCli(["token", "get", id, "--json"], { cwd, env: env() });
  assert.equal(JSON.parse(get2.stdout).accessToken, ledger[0]!.access_token);
  assert.equal(JSON.parse(get2.stdout).keyId, ledger[0]!.key_id);
  assert.equal((await tokenLedger(emu.url, id)).length, 1);

  const issue = await runCli(["token", "issue", id, "--json"], { cwd, env: env() });
  assert.equal(issue.code, 0, issue.stderr);
  ledger = await tokenLedger(emu.url, id);
  assert.equal(ledger.length, 2);
  assert.equal(JSON.parse(issue.stdout).keyId, ledger[1]!.key_id);
  assert.ok(!issue.stdout.includes(ledger[1]!.access_token), "issue never prints the token");

  const list = await runCli(["token", "list", id], { cwd, env: env() });
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${ledger[0]!.key_id}\\s+superseded`));
  assert.match(list.stdout, new RegExp(`${ledger[1]!.key_id}\\s+valid`));
  assert.match(list.stdout, /budget: 2 of 30/);
  for (const t of ledger) assert.ok(!list.stdout.includes(t.access_token), "list never prints a token");
  const listJson = JSON.parse((await runCli(["token", "list", id, "--json"], { cwd, env: env() })).stdout);
  assert.deepEqual(listJson.tokens.map((t: { keyId: string; state: string }) => [t.keyId, t.state]), [[ledger[1]!.key_id, "valid"], [ledger[0]!.key_id, "superseded"]]);
  assert.ok(!JSON.stringify(listJson).includes(ledger[0]!.access_token));

  const rev = await runCli(["token", "revoke", id, ledger[0]!.key_id!], { cwd, env: env() });
  assert.equal(rev.code, 0, rev.stderr);
  assert.equal(rev.stdout, `revoked ${ledger[0]!.key_id}\n`);
  assert.equal((await tokenLedger(emu.url, id))[0]!.state, "revoked");

  // Two tokens issued behind kagiya's back are named as orphans.
  const s1 = await issueTestToken(emu.url, ch);
  const s2 = await issueTestToken(emu.url, ch);
  const rec = await runCli(["token", "reconcile", id], { cwd, env: env() });
  assert.equal(rec.code, 0, rec.stderr);
  assert.match(rec.stdout, new RegExp(`orphan .*: ${s1.key_id}`));
  assert.match(rec.stdout, new RegExp(`orphan .*: ${s2.key_id}`));
  assert.match(rec.stdout, /budget left: 27 of 30/);
  const recJson = JSON.parse((await runCli(["token", "reconcile", id, "--json"], { cwd, env: env() })).stdout);
  assert.equal(recJson.budgetLeft, 27);
  assert.deepEqual([...recJson.orphans].sort(), [s1.key_id, s2.key_id].sort());

  const all = await runCli(["token", "revoke", id, "--all", "--json"], { cwd, env: env() });
  assert.equal(all.code, 0, all.stderr);
  const report = JSON.parse(all.stdout);
  assert.deepEqual(report.revoked, [ledger[1]!.key_id]);
  assert.equal(report.skipped.length, 2, "orphans cannot be revoked without their token");
  const after = await tokenLedger(emu.url, id);
  assert.equal(after.find((t) => t.key_id === ledger[1]!.key_id)!.state, "revoked");
});

test("token bad input: unknown or malformed channel, missing master key, bad --store, KEY_ID and --all: one line, exit 2", async () => {
  const cwd = mkdtempSync(join(dir, "b-"));
  const ch = await registered(cwd, []);
  const cases: Array<[string, string[], Record<string, string>, RegExp]> = [
    ["unknown channel", ["token", "get", "9999999999"], env(), /not registered/],
    ["malformed channel", ["token", "list", "abc"], env(), /channel ID "abc"/],
    ["no master key", ["token", "get", ch.channelId], { KAGIYA_LINE_API_BASE: emu.url }, /no master key/],
    ["wrong master key", ["token", "get", ch.channelId], env({ KAGIYA_MASTER_KEY: generateMasterKeyText() }), /master key/],
    ["bad --store", ["token", "get", ch.channelId, "--store", "ftp://x"], env(), /unknown store/],
    ["both KEY_ID and --all", ["token", "revoke", ch.channelId, "k", "--all"], env(), /KEY_ID or --all/],
    ["neither KEY_ID nor --all", ["token", "revoke", ch.channelId], env(), /KEY_ID or --all/],
    ["unknown key ID", ["token", "revoke", ch.channelId, "nope"], env(), /no token with key ID/],
    ["no channel", ["token", "get"], env(), /CHANNEL/],
  ];
  for (const [what, args, e, pattern] of cases) {
    const r = await runCli(args, { cwd, env: e });
    assert.equal(r.code, 2, `${what}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, `${what}: one line: ${r.stderr}`);
    assert.match(r.stderr, pattern, what);
  }
  assert.equal((await tokenLedger(emu.url, ch.channelId)).length, 0, "nothing issued");
});

test("token with an unreachable store: one line, exit 1 like LINE down (changing the input would not help)", async () => {
  const cwd = mkdtempSync(join(dir, "u-"));
  const ch = await registered(cwd, []);
  const cases: Array<[string, string, RegExp]> = [
    ["unreachable Redis", "redis://127.0.0.1:1", /Redis/],
    ["unreachable PostgreSQL", "postgres://postgres@127.0.0.1:1/test", /PostgreSQL|postgres/i],
  ];
  for (const [what, spec, pattern] of cases) {
    const r = await runCli(["token", "get", ch.channelId, "--store", spec], { cwd, env: env() });
    assert.equal(r.code, 1, `${what}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, `${what}: one line: ${r.stderr}`);
    assert.match(r.stderr, pattern, what);
  }
});

for (const backend of (await allBackends()).filter((b) => b.name !== "sqlite")) {
  test(`token get / list --store ${backend.name}`, { skip: backend.skip }, async () => {
    const cwd = mkdtempSync(join(dir, `${backend.name}-`));
    const store = ["--store", backend.spec];
    const ch = await registered(cwd, store);
    const get = await runCli(["token", "get", ch.channelId, ...store], { cwd, env: env() });
    assert.equal(get.code, 0, get.stderr);
    const ledger = await tokenLedger(emu.url, ch.channelId);
    assert.equal(get.stdout, `${ledger[0]!.access_token}\n`);
    const list = JSON.parse((await runCli(["token", "list", ch.channelId, "--json", ...store], { cwd, env: env() })).stdout);
    assert.deepEqual(list.tokens.map((t: { keyId: string }) => t.keyId), [ledger[0]!.key_id]);
  });
}
