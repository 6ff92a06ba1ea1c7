import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../helpers/cli.ts";
import { createTestChannel, type TestEmulator } from "../helpers/emulator.ts";
import { startEmulatorWithTempDir } from "../helpers/emulator-fixture.ts";
import { generateMasterKeyText } from "../../src/store/sealed.ts";

let emu: TestEmulator;
let dir: string;
let cleanup: () => Promise<void>;
const masterKey = generateMasterKeyText();
before(async () => ({ emu, dir, cleanup } = await startEmulatorWithTempDir("kagiya-cli-channel-")));
after(() => cleanup());

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { KAGIYA_MASTER_KEY: masterKey, KAGIYA_LINE_API_BASE: emu.url, ...extra };
}

/** Writes a key file; private keys get alg and use, as `kagiya keys generate` writes them (keys lint wants both). */
async function keyFile(name: string, jwk: object): Promise<string> {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify("d" in jwk ? { ...jwk, alg: "RS256", use: "sig" } : jwk), { mode: 0o600 });
  return path;
}

function oneLine(stderr: string): void {
  assert.equal(stderr.trim().split("\n").length, 1, `one line: ${stderr}`);
}

test("channel add (secret from --secret-env), list, show, remove; secrets never printed nor stored in plaintext", async () => {
  const cwd = mkdtempSync(join(dir, "a-"));
  const ch = await createTestChannel(emu.url);
  const key = await keyFile("a.jwk.json", ch.privateJwk);
  const add = await runCli(["channel", "add", "--id", ch.channelId, "--kid", ch.kid, "--key", key, "--secret-env", "LINE_SECRET", "--lifetime", "1d"], { cwd, env: env({ LINE_SECRET: ch.channelSecret }) });
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, new RegExp(`added channel ${ch.channelId}`));

  const list = await runCli(["channel", "list", "--json"], { cwd, env: env() });
  assert.equal(list.code, 0, list.stderr);
  const rows = JSON.parse(list.stdout) as Array<{ channelId: string; kid: string }>;
  assert.deepEqual(rows.map((r) => [r.channelId, r.kid]), [[ch.channelId, ch.kid]]);

  const show = await runCli(["channel", "show", ch.channelId], { cwd, env: env() });
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /budget\s+0 of 30/);
  const showJson = JSON.parse((await runCli(["channel", "show", ch.channelId, "--json"], { cwd, env: env() })).stdout);
  assert.equal(showJson.policy.lifetimeSeconds, 86400);
  assert.equal(showJson.policy.revokeGraceSeconds, 600);
  for (const out of [add.stdout, list.stdout, show.stdout, add.stderr, list.stderr, show.stderr]) {
    assert.ok(!out.includes(ch.channelSecret));
    assert.ok(!out.includes(ch.privateJwk.d as string));
  }
  const db = readFileSync(join(cwd, "kagiya.db"));
  assert.equal(db.indexOf(ch.channelSecret), -1, "channel secret in plaintext in the SQLite file");
  assert.equal(db.indexOf(ch.privateJwk.d as string), -1, "private key in plaintext in the SQLite file");

  const again = await runCli(["channel", "add", "--id", ch.channelId, "--kid", ch.kid, "--key", key, "--secret-env", "LINE_SECRET"], { cwd, env: env({ LINE_SECRET: ch.channelSecret }) });
  assert.equal(again.code, 2);
  oneLine(again.stderr);
  assert.match(again.stderr, /already registered.*pass --replace to replace it/);

  const rm = await runCli(["channel", "remove", ch.channelId, "--json"], { cwd, env: env() });
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(JSON.parse(rm.stdout).removed, true);
  const empty = await runCli(["channel", "list", "--json"], { cwd, env: env() });
  assert.deepEqual(JSON.parse(empty.stdout), []);
});

test("channel add reads the secret from standard input when --secret-env is not given, and takes a PEM key", async () => {
  const cwd = mkdtempSync(join(dir, "b-"));
  const ch = await createTestChannel(emu.url);
  // A PEM private key is accepted too (stored as a JWK).
  const key = join(dir, "b.pem");
  writeFileSync(key, createPrivateKey({ key: ch.privateJwk as never, format: "jwk" }).export({ format: "pem", type: "pkcs8" }) as string, { mode: 0o600 });
  const add = await runCli(["channel", "add", "--id", ch.channelId, "--kid", ch.kid, "--key", key, "--json"], { cwd, env: env(), stdin: `${ch.channelSecret}\n` });
  assert.equal(add.code, 0, add.stderr);
  assert.equal(JSON.parse(add.stdout).channelId, ch.channelId);
  assert.ok(!add.stdout.includes(ch.channelSecret) && !add.stderr.includes(ch.channelSecret));
  // The secret went in: a token can be issued and revoked with it.
  const get = await runCli(["token", "get", ch.channelId], { cwd, env: env() });
  assert.equal(get.code, 0, get.stderr);
  const revoke = await runCli(["token", "revoke", ch.channelId, "--all"], { cwd, env: env() });
  assert.equal(revoke.code, 0, revoke.stderr);
});

test("channel bad input: one line, exit 2, nothing written", async () => {
  const cwd = mkdtempSync(join(dir, "c-"));
  const ch = await createTestChannel(emu.url);
  const good = await keyFile("c.jwk.json", ch.privateJwk);
  const pub = await keyFile("c.pub.json", ch.publicJwk);
  const bare = join(dir, "c.bare.json"); // a private JWK without alg and use
  writeFileSync(bare, JSON.stringify(ch.privateJwk), { mode: 0o600 });
  const junk = join(dir, "c.junk.json");
  writeFileSync(junk, "hello", { mode: 0o600 });
  const fifo = join(dir, "c.fifo");
  execFileSync("mkfifo", ["-m", "600", fifo]);
  const cases: Array<[string, string[], Record<string, string>, RegExp]> = [
    ["malformed channel ID", ["channel", "add", "--id", "12ab", "--kid", ch.kid, "--key", good, "--secret-env", "S"], env({ S: "x" }), /channel ID "12ab"/],
    ["a public key", ["channel", "add", "--id", ch.channelId, "--kid", ch.kid, "--key", pub, "--secret-env", "S"], env({ S: "x" }), /public key/],
    ["a key failing lint", ["channel", "add", "--id", ch.channelId, "--kid", ch.kid, "--key", bare, "--secret-env", "S"], env({ S: "x" }), /fails keys lint \(alg: .*use/],
    ["a file that is no key", ["channel", "add", "--id", ch.channelId, "--kid", ch.kid, "--key", junk, "--secret-env", "S"], env({ S: "x" }), /key/],
    ["a missing key file", ["channel", "add", "--id", ch.channelId, "--kid", ch.kid, "--key", join(cwd, "nope.json"), "--secret-env", "S"], env({ S: "x" }), /key file \(--key\) ".*nope\.json" does not exist/],
    ["a FIFO as key file", ["channel", "add", "--id", ch.channelId, "--kid", ch.kid, "--key", fifo, "--secret-env", "S"], env({ S: "x" }), /key file \(--key\) ".*" is a FIFO \(named pipe\), not a regular file/],
    ["a secret over 1024 characters", ["channel", "add", "--id", ch.channelId, "--kid", ch.kid, "--key", good, "--secret-env", "S"], env({ S: "a".repeat(1025) }), /channel secret \(the variable S\) is 1025 characters, over the limit of 1024/],
    ["the secret as a flag value", ["channel", "add", "--id", ch.channelId, "--kid", ch.kid, "--key", good, "--secret", "x"], env(), /unknown option --secret/],
    ["an unset secret variable", ["channel", "add", "--id", ch.channelId, "--kid", ch.kid, "--key", good, "--secret-env", "NOPE"], env(), /NOPE/],
    ["no master key", ["channel", "add", "--id", ch.channelId, "--kid", ch.kid, "--key", good, "--secret-env", "S"], { KAGIYA_LINE_API_BASE: emu.url, S: "x" }, /no master key/],
    ["a bad lifetime", ["channel", "add", "--id", ch.channelId, "--kid", ch.kid, "--key", good, "--secret-env", "S", "--lifetime", "31d"], env({ S: "x" }), /lifetime/i],
    ["an unknown token kind", ["channel", "add", "--id", ch.channelId, "--kid", ch.kid, "--key", good, "--secret-env", "S", "--token-kind", "v3"], env({ S: "x" }), /--token-kind must be v2\.1 or stateless/],
    ["--auth for v2.1", ["channel", "add", "--id", ch.channelId, "--kid", ch.kid, "--key", good, "--secret-env", "S", "--auth", "secret"], env({ S: "x" }), /--auth applies to stateless/],
    ["a bad --auth", ["channel", "add", "--id", ch.channelId, "--kid", ch.kid, "--key", good, "--secret-env", "S", "--token-kind", "stateless", "--auth", "basic"], env({ S: "x" }), /--auth must be assertion or secret/],
    ["a lifetime for stateless tokens", ["channel", "add", "--id", ch.channelId, "--kid", ch.kid, "--key", good, "--secret-env", "S", "--token-kind", "stateless", "--lifetime", "1h"], env({ S: "x" }), /lifetimeSeconds cannot be set for stateless/],
    ["a bad --store", ["channel", "list", "--store", "mysql://x"], env(), /unknown store/],
    ["an unknown channel", ["channel", "show", "9999999999"], env(), /not registered|no kagiya store/],
    ["removing an unknown channel", ["channel", "remove", "9999999999"], env(), /not registered|no kagiya store/],
  ];
  for (const [what, args, e, pattern] of cases) {
    const r = await runCli(args, { cwd, env: e });
    assert.equal(r.code, 2, `${what}: ${r.stderr}`);
    oneLine(r.stderr);
    assert.match(r.stderr, pattern, what);
    if (args[1] === "add") assert.ok(!existsSync(join(cwd, "kagiya.db")), `${what}: nothing written`);
  }
  const piped = await runCli(["channel", "add", "--id", ch.channelId, "--kid", ch.kid, "--key", good], { cwd, env: env(), stdin: "b".repeat(2000) + "\n" });
  assert.equal(piped.code, 2, piped.stderr);
  oneLine(piped.stderr);
  assert.match(piped.stderr, /channel secret \(the first line of standard input\) is 2000 characters, over the limit of 1024/);
  assert.ok(!piped.stderr.includes("bbbbbbbbbb"), "the secret is not echoed");
  assert.ok(!existsSync(join(cwd, "kagiya.db")), "a too-long secret: nothing written");
});

test("channel add --token-kind stateless: token get prints a stateless token LINE accepts, list and show name the kind", async () => {
  const cwd = mkdtempSync(join(dir, "s-"));
  const ch = await createTestChannel(emu.url);
  const key = await keyFile("s.jwk.json", ch.privateJwk);
  for (const [i, auth] of [[0, []], [1, ["--auth", "secret"]]] as const) {
    const c = i === 0 ? ch : await createTestChannel(emu.url);
    const k = i === 0 ? key : await keyFile(`s${i}.jwk.json`, c.privateJwk);
    const add = await runCli(["channel", "add", "--id", c.channelId, "--kid", c.kid, "--key", k, "--secret-env", "S", "--token-kind", "stateless", ...auth, "--json"], { cwd, env: env({ S: c.channelSecret }) });
    assert.equal(add.code, 0, add.stderr);
    assert.equal(JSON.parse(add.stdout).kind, "line-stateless");
    const got = await runCli(["token", "get", c.channelId], { cwd, env: env() });
    assert.equal(got.code, 0, got.stderr);
    const token = got.stdout.trim();
    const verify = await fetch(`${emu.url}/oauth2/v2.1/verify?access_token=${encodeURIComponent(token)}`);
    assert.equal(verify.status, 200);
    const ledger = await (await fetch(`${emu.url}/__emulator/channels/${c.channelId}/tokens`)).json() as { tokens: Array<{ kind: string }> };
    assert.deepEqual(ledger.tokens.map((t) => t.kind), ["stateless"]);
  }
  const list = await runCli(["channel", "list"], { cwd, env: env() });
  assert.match(list.stdout, new RegExp(`${ch.channelId}\\s+line-stateless`));
  const show = await runCli(["channel", "show", ch.channelId], { cwd, env: env() });
  assert.match(show.stdout, /kind\s+line-stateless/);
  assert.match(show.stdout, /no cap/);
  assert.match(show.stdout, /lifetime\s+900 s/);
});
