import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli, type CliResult } from "../helpers/cli.ts";
import { KEYS_DIR, privateValues, vector } from "../core/vectors.ts";

const dir = mkdtempSync(join(tmpdir(), "kagiya-jwt-"));
const a2 = vector("rfc7515-a2");
const pyjwt = vector("line-docs-pyjwt");
const nodeJose = vector("line-docs-node-jose");
const A2_KEY = join(dir, "a2.jwk.json");
const PY_KEY = join(dir, "pyjwt.jwk.json");
const NJ_KEY = join(dir, "node-jose.jwk.json");
writeFileSync(A2_KEY, JSON.stringify(a2.privateJwk));
writeFileSync(PY_KEY, JSON.stringify(pyjwt.privateJwk, null, 2));
writeFileSync(NJ_KEY, JSON.stringify(nodeJose.privateJwk));
const SECRETS = [...privateValues(a2.privateJwk), ...privateValues(pyjwt.privateJwk)];

function assertOneLineError(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 2, r.stderr + r.stdout);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, pattern);
  for (const s of SECRETS) assert.ok(!(r.stderr + r.stdout).includes(s.slice(0, 16)), "a private member was printed");
}

test("jwt sign reproduces RFC 7515 Appendix A.2 byte for byte", async () => {
  const r = await runCli(["jwt", "sign", "--key", A2_KEY, "--header", a2.header, "--payload", a2.payload]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, a2.jws + "\n");
});

test("jwt sign reproduces the LINE docs' PyJWT sample byte for byte from the docs' key, header and payload", async () => {
  const r = await runCli(["jwt", "sign", "--key", PY_KEY, "--header", pyjwt.header, "--payload", pyjwt.payload]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, pyjwt.jwt + "\n");
});

test("jwt inspect gives the docs' node-jose sample the findings it deserves", async () => {
  const r = await runCli(["jwt", "inspect", nodeJose.jwt!, "--key", NJ_KEY, "--json"]);
  assert.equal(r.code, 1);
  const out = JSON.parse(r.stdout) as { header: unknown; payload: Record<string, unknown>; signature: string; findings: Array<{ code: string; field: string; message: string }> };
  assert.deepEqual(Object.keys(out), ["header", "payload", "signature", "findings"]);
  assert.equal(out.signature, "invalid");
  assert.deepEqual(out.findings.map((f) => f.code), ["JWT_KID_KEY_MISMATCH", "JWT_EXP_NOT_NUMBER", "JWT_EXP_PAST", "JWT_TOKEN_EXP_NOT_NUMBER", "JWT_SIGNATURE_INVALID"]);
  assert.deepEqual(Object.keys(out.findings[0]!), ["code", "field", "message"]);
  for (const s of privateValues(nodeJose.privateJwk)) assert.ok(!r.stdout.includes(s));

  const human = await runCli(["jwt", "inspect", "-"], { stdin: nodeJose.jwt + "\n" });
  assert.equal(human.code, 1);
  assert.match(human.stdout, /signature: not-checked/);
  assert.match(human.stdout, /payload\.exp: exp is the string "1585200062".*\[JWT_EXP_NOT_NUMBER\]/);
});

test("jwt create makes an assertion that inspects clean against the key, with PEM or JWK keys", async () => {
  for (const keyFile of [PY_KEY, KEYS_DIR + "rsa2048.pkcs8.pem", KEYS_DIR + "rsa2048.pkcs1.pem"]) {
    const r = await runCli(["jwt", "create", "--channel-id", "1234567890", "--kid", "9869e446-3489-4516-a83f-ec9214ad94d0", "--key", keyFile, "--expires-in", "30m", "--token-exp", "1d"]);
    assert.equal(r.code, 0, r.stderr);
    const jwt = r.stdout.trim();
    const payload = JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(payload), ["iss", "sub", "aud", "exp", "token_exp"]);
    assert.equal(payload["token_exp"], 86400);
    assert.ok(Number.isInteger(payload["exp"]));
    const checked = await runCli(["jwt", "inspect", jwt, "--key", keyFile.endsWith(".pem") ? KEYS_DIR + "rsa2048.spki.pem" : PY_KEY, "--json"]);
    assert.equal(checked.code, 0, checked.stdout);
    assert.deepEqual(JSON.parse(checked.stdout).findings, []);
    assert.equal(JSON.parse(checked.stdout).signature, "valid");
  }
});

test("jwt create refuses out-of-range lifetimes with the limit, never clamping", async () => {
  const base = ["jwt", "create", "--channel-id", "1", "--kid", "k", "--key", PY_KEY];
  assertOneLineError(await runCli([...base, "--expires-in", "31m"]), /--expires-in 31m \(1860 s\) is over LINE's limit of 30m \(1800 s\)/);
  assertOneLineError(await runCli([...base, "--token-exp", "31d"]), /--token-exp 31d \(2678400 s\) is over LINE's limit of 30d \(2592000 s\)/);
  assertOneLineError(await runCli([...base, "--expires-in", "0"]), /at least 1s/);
  assertOneLineError(await runCli([...base, "--expires-in", "5 minutes"]), /not a duration/);
  const ok = await runCli([...base, "--expires-in", "1800", "--token-exp", "30d"]);
  assert.equal(ok.code, 0, ok.stderr);
});

test("jwt commands answer bad keys with one line on stderr and exit 2, quoting no key material", async () => {
  const empty = join(dir, "empty");
  writeFileSync(empty, "");
  const truncated = join(dir, "truncated.json");
  writeFileSync(truncated, readFileSync(PY_KEY, "utf8").slice(0, 400));
  const mismatched = join(dir, "mismatched.json");
  writeFileSync(mismatched, JSON.stringify({ ...pyjwt.privateJwk, d: a2.privateJwk["d"] }));
  const create = (key: string) => runCli(["jwt", "create", "--channel-id", "1", "--kid", "k", "--key", key]);
  assertOneLineError(await create(join(dir, "nope.json")), /does not exist/);
  assertOneLineError(await create(dir), /is a folder/);
  assertOneLineError(await create(empty), /is empty/);
  assertOneLineError(await create(truncated), /not valid JSON/);
  assertOneLineError(await create(mismatched), /do not fit together/);
  assertOneLineError(await create(KEYS_DIR + "ec-p256.private.jwk.json"), /kty "EC".*RSA 2048-bit/);
  assertOneLineError(await create(KEYS_DIR + "oct.jwk.json"), /kty "oct"/);
  assertOneLineError(await create(KEYS_DIR + "ec-p256.private.pem"), /EC key/);
  assertOneLineError(await create(KEYS_DIR + "rsa1024.private.jwk.json"), /1024-bit/);
  assertOneLineError(await create(KEYS_DIR + "rsa4096.private.pem"), /4096-bit/);
  assertOneLineError(await create(KEYS_DIR + "rsa2048.spki.pem"), /public key: signing needs the private key/);
  assertOneLineError(await runCli(["jwt", "inspect", pyjwt.jwt!, "--key", KEYS_DIR + "rsa1024.private.pem"]), /1024-bit/);
  assertOneLineError(await runCli(["jwt", "inspect", pyjwt.jwt!, "--key", KEYS_DIR + "oct.jwk.json"]), /kty "oct"/);
  assertOneLineError(await runCli(["jwt", "sign", "--key", KEYS_DIR + "ec-p256.private.jwk.json", "--header", '{"alg":"RS256"}', "--payload", "{}"]), /kty "EC"/);
});

test("jwt commands answer bad flags and non-JWS tokens with one line on stderr and exit 2", async () => {
  assertOneLineError(await runCli(["jwt", "create", "--kid", "k", "--key", PY_KEY]), /missing required option --channel-id/);
  assertOneLineError(await runCli(["jwt", "create", "--channel-id", "1", "--key", PY_KEY]), /missing required option --kid/);
  assertOneLineError(await runCli(["jwt", "create", "--channel-id", "1", "--kid", "k"]), /missing required option --key/);
  assertOneLineError(await runCli(["jwt", "create", "--channel-id", "abc", "--kid", "k", "--key", PY_KEY]), /not a channel ID/);
  assertOneLineError(await runCli(["jwt", "create", "--channel-id", "1", "--kid", "k", "--key", PY_KEY, "--expires"]), /unknown option --expires/);
  assertOneLineError(await runCli(["jwt", "sign", "--key", PY_KEY, "--header", "{", "--payload", "{}"]), /--header is not valid JSON/);
  assertOneLineError(await runCli(["jwt", "sign", "--key", PY_KEY, "--header", '{"alg":"HS256"}', "--payload", "{}"]), /RS256/);
  assertOneLineError(await runCli(["jwt", "sign", "--key", PY_KEY, "--header", '{"alg":"RS256"}']), /missing required option --payload/);
  assertOneLineError(await runCli(["jwt", "inspect", "not-a-jwt"]), /not a compact JWS.*found 1/);
  assertOneLineError(await runCli(["jwt", "inspect", pyjwt.jwt!.slice(0, pyjwt.jwt!.lastIndexOf("."))]), /three dot-separated segments/);
  assertOneLineError(await runCli(["jwt", "inspect", pyjwt.jwt!.slice(0, 60)]), /segment/);
  assertOneLineError(await runCli(["jwt", "inspect", "-"], { stdin: "" }), /no token given/);
  assertOneLineError(await runCli(["jwt", "inspect", "--verbose", pyjwt.jwt!]), /unknown option --verbose/);
  assertOneLineError(await runCli(["jwt", "frob"]), /unknown subcommand "jwt frob"/);
});
