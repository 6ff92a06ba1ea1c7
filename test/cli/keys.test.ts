import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli, type CliResult } from "../helpers/cli.ts";
import { KEYS_DIR, privateValues, vector } from "../core/vectors.ts";
import { CORPUS } from "../core/key-corpus.ts";

const dir = mkdtempSync(join(tmpdir(), "kagiya-keys-"));

function assertOneLineError(r: CliResult, pattern: RegExp, secrets: string[] = []): void {
  assert.equal(r.code, 2, r.stderr + r.stdout);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  for (const s of secrets) assert.ok(!(r.stderr + r.stdout).includes(s.slice(0, 16)), "a private member was printed");
}

test("keys generate writes a 0600 private key and the exact public JWK, prints the JWK and thumbprint", async () => {
  const out = join(dir, "gen");
  const r = await runCli(["keys", "generate", "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  const printed = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(printed), ["kty", "alg", "use", "n", "e"]);
  assert.deepEqual([printed["kty"], printed["alg"], printed["use"], printed["e"]], ["RSA", "RS256", "sig", "AQAB"]);
  assert.deepEqual(JSON.parse(readFileSync(join(out, "public.jwk.json"), "utf8")), printed);
  assert.equal(statSync(join(out, "private.jwk.json")).mode & 0o777, 0o600);
  const priv = JSON.parse(readFileSync(join(out, "private.jwk.json"), "utf8")) as Record<string, unknown>;
  assert.equal(priv["n"], printed["n"]);
  for (const s of privateValues(priv)) assert.ok(!(r.stdout + r.stderr).includes(s), "private member printed");
  assert.match(r.stderr, /thumbprint \(RFC 7638\): [\w-]{43}/);

  const lint = await runCli(["keys", "lint", join(out, "public.jwk.json"), join(out, "private.jwk.json")]);
  assert.equal(lint.code, 0, lint.stdout);
  assert.match(lint.stdout, /public\.jwk\.json: ok \(public RSA 2048-bit/);

  const again = await runCli(["keys", "generate", "--out", out]);
  assertOneLineError(again, /already exists: pass --force/);
  assert.deepEqual(JSON.parse(readFileSync(join(out, "public.jwk.json"), "utf8")), printed, "the refused run left the key alone");

  const forced = await runCli(["keys", "generate", "--out", out, "--force", "--key-ops"]);
  assert.equal(forced.code, 0, forced.stderr);
  const replaced = JSON.parse(forced.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(replaced), ["kty", "alg", "key_ops", "n", "e"]);
  assert.deepEqual(replaced["key_ops"], ["verify"]);
  assert.notEqual(replaced["n"], printed["n"]);
  assert.equal(statSync(join(out, "private.jwk.json")).mode & 0o777, 0o600);
});

test("keys generate defaults to the current folder", async () => {
  const cwd = join(dir, "cwd");
  mkdirSync(cwd);
  const r = await runCli(["keys", "generate"], { cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(statSync(join(cwd, "private.jwk.json")).mode & 0o777, 0o600);
});

test("keys lint exits 1 with one line per finding naming field, problem and fix", async () => {
  const v = vector("line-docs-node-jose");
  const file = join(dir, "registered.jwk.json");
  writeFileSync(file, JSON.stringify({ kty: "RSA", kid: v.privateJwk["kid"], n: v.privateJwk["n"] + "==", e: v.privateJwk["e"] }));
  const r = await runCli(["keys", "lint", file]);
  assert.equal(r.code, 1);
  const lines = r.stdout.trim().split("\n");
  assert.deepEqual(lines.map((l) => /\[(\w+)\]$/.exec(l)?.[1]), ["KEY_B64_PADDING", "KEY_ALG_MISSING", "KEY_USE_MISSING", "KEY_KID_PRESENT"]);
  assert.match(lines[0]!, /registered\.jwk\.json: n: .*padding; fix: remove/);

  const json = await runCli(["keys", "lint", "--json", file]);
  assert.equal(json.code, 1);
  const report = JSON.parse(json.stdout) as { findings: Array<Record<string, string>> };
  assert.deepEqual(Object.keys(report.findings[0]!), ["code", "field", "message", "fix"]);
});

test("keys lint reports other key types and sizes as findings (exit 1), never printing private members", async () => {
  for (const name of ["ec-p256.private.jwk.json", "oct.jwk.json", "rsa1024.private.jwk.json", "rsa4096.private.pem", "ec-p256.private.pem"]) {
    const r = await runCli(["keys", "lint", KEYS_DIR + name]);
    assert.equal(r.code, 1, name);
    assert.match(r.stdout, /KEY_KTY_NOT_RSA|KEY_MODULUS_SIZE/);
    if (name.endsWith(".json")) {
      for (const s of privateValues(JSON.parse(readFileSync(KEYS_DIR + name, "utf8")))) assert.ok(!(r.stdout + r.stderr).includes(s), name);
    }
  }
});

test("keys commands answer bad input with one line on stderr and exit 2", async () => {
  const empty = join(dir, "empty.json");
  writeFileSync(empty, "");
  const notJson = join(dir, "broken.json");
  const priv = vector("line-docs-pyjwt").privateJwk;
  writeFileSync(notJson, JSON.stringify(priv).slice(0, 300));
  const aFile = join(dir, "a-file");
  writeFileSync(aFile, "x");
  const secrets = privateValues(priv);
  assertOneLineError(await runCli(["keys", "lint", join(dir, "missing.json")]), /does not exist/);
  assertOneLineError(await runCli(["keys", "lint", dir]), /is a folder/);
  assertOneLineError(await runCli(["keys", "lint", empty]), /is empty/);
  assertOneLineError(await runCli(["keys", "lint", notJson]), /not valid JSON/, secrets);
  assertOneLineError(await runCli(["keys", "lint", KEYS_DIR + "rsa2048.encrypted.pem"]), /encrypted/);
  assertOneLineError(await runCli(["keys", "lint"]), /missing FILE/);
  assertOneLineError(await runCli(["keys", "lint", "--bogus", empty]), /unknown option --bogus/);
  assertOneLineError(await runCli(["keys", "generate", "--out"]), /--out needs a value/);
  assertOneLineError(await runCli(["keys", "generate", "--out", aFile]), /is a file, not a folder/);
  assertOneLineError(await runCli(["keys", "generate", "--nope"]), /unknown option --nope/);
});

test("keys lint catches every key of the broken-key corpus, each with the right code and field", async () => {
  const corpusDir = join(dir, "corpus");
  mkdirSync(corpusDir);
  const files = CORPUS.map((entry, i) => {
    const file = join(corpusDir, `${String(i).padStart(2, "0")}.jwk.json`);
    writeFileSync(file, JSON.stringify(entry.key));
    return { file, entry };
  });
  for (const asPublic of [false, true]) {
    const group = files.filter((f) => (f.entry.public === true) === asPublic);
    const r = await runCli(["keys", "lint", "--json", ...(asPublic ? ["--public"] : []), ...group.map((f) => f.file)]);
    assert.equal(r.code, 1, r.stderr);
    const reports = JSON.parse(r.stdout) as Array<{ file: string; findings: Array<{ code: string; field: string }> }> | { file: string; findings: Array<{ code: string; field: string }> };
    const list = Array.isArray(reports) ? reports : [reports];
    assert.equal(list.length, group.length);
    for (const [i, report] of list.entries()) {
      const { entry } = group[i]!;
      assert.deepEqual(report.findings.map((f) => [f.code, f.field]), [[entry.code, entry.field]], entry.name);
    }
  }
});
