// `kagiya jwt create --works` and `kagiya jwt inspect --works`: LINE WORKS' rules instead of
// LINE's, and seed 003's mistakes, made by hand, refused by the emulator and named by the CLI.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createPrivateKey } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli, type CliResult } from "../helpers/cli.ts";
import { startTestEmulator, testKeyPair, type TestEmulator } from "../helpers/emulator.ts";
import { createWorksApp, jwtBearerForm, postForm, signWorksAssertion, type TestWorksApp } from "../helpers/works-emulator.ts";
import { KEYS_DIR } from "../core/vectors.ts";

const dir = mkdtempSync(join(tmpdir(), "kagiya-jwt-works-"));
const PKCS8 = KEYS_DIR + "rsa2048.pkcs8.pem";
const SPKI = KEYS_DIR + "rsa2048.spki.pem";
const SA = "ab1cd.serviceaccount@example.com";
let emu: TestEmulator;
let app: TestWorksApp;
let appKeyFile: string;
let appPublicFile: string;
before(async () => {
  emu = await startTestEmulator();
  app = await createWorksApp(emu.url);
  const { privateJwk, publicJwk } = await testKeyPair();
  appKeyFile = join(dir, "app.pem");
  writeFileSync(appKeyFile, createPrivateKey({ key: privateJwk, format: "jwk" }).export({ type: "pkcs8", format: "pem" }) as string);
  appPublicFile = join(dir, "app.public.jwk.json");
  writeFileSync(appPublicFile, JSON.stringify(publicJwk));
});
after(() => emu.close());

function oneLineError(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 2, r.stderr + r.stdout);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, pattern);
  assert.equal(r.stdout, "");
}

function parts(jwt: string): [Record<string, unknown>, Record<string, unknown>] {
  const [h, p] = jwt.split(".").slice(0, 2).map((s) => JSON.parse(Buffer.from(s, "base64url").toString("utf8")) as Record<string, unknown>);
  return [h!, p!];
}

test("jwt create --works makes an assertion that inspects clean under LINE WORKS' rules, from the console's PKCS #8 PEM or a JWK", async () => {
  for (const key of [PKCS8, KEYS_DIR + "rsa2048.private.jwk.json"]) {
    const r = await runCli(["jwt", "create", "--works", "--client-id", "AbCdEf123", "--service-account", SA, "--key", key]);
    assert.equal(r.code, 0, r.stderr);
    const jwt = r.stdout.trim();
    const [header, payload] = parts(jwt);
    assert.deepEqual(header, { alg: "RS256", typ: "JWT" });
    assert.deepEqual(Object.keys(payload), ["iss", "sub", "iat", "exp"]);
    assert.deepEqual([payload["iss"], payload["sub"], (payload["exp"] as number) - (payload["iat"] as number)], ["AbCdEf123", SA, 3600]);
    const checked = await runCli(["jwt", "inspect", "--works", jwt, "--key", SPKI, "--json"]);
    assert.equal(checked.code, 0, checked.stdout);
    assert.deepEqual(JSON.parse(checked.stdout).findings, []);
    assert.equal(JSON.parse(checked.stdout).signature, "valid");
    // Judged by LINE's rules, the same token is wrong: the flag really switches the rules.
    const asLine = await runCli(["jwt", "inspect", jwt, "--json"]);
    assert.equal(asLine.code, 1);
    assert.ok(JSON.parse(asLine.stdout).findings.some((f: { code: string }) => f.code === "JWT_KID_MISSING"));
  }
  const short = await runCli(["jwt", "create", "--works", "--client-id", "c", "--service-account", SA, "--key", PKCS8, "--expires-in", "10m"]);
  const [, payload] = parts(short.stdout.trim());
  assert.equal((payload["exp"] as number) - (payload["iat"] as number), 600);
});

test("jwt create --works output is accepted by the emulator's LINE WORKS token endpoint", async () => {
  const r = await runCli(["jwt", "create", "--works", "--client-id", app.clientId, "--service-account", app.serviceAccount, "--key", appKeyFile]);
  assert.equal(r.code, 0, r.stderr);
  const answer = await postForm(emu.url, "/oauth2/v2.0/token", jwtBearerForm(app, r.stdout.trim()));
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.equal(answer.body.expires_in, "86400");
});

test("jwt create --works refuses bad input with one line and exit 2", async () => {
  const base = ["jwt", "create", "--works", "--client-id", "c", "--service-account", SA, "--key", PKCS8];
  oneLineError(await runCli([...base, "--expires-in", "2h"]), /--expires-in 2h \(7200 s\) is over LINE WORKS's limit of 1h \(3600 s\)/);
  oneLineError(await runCli(["jwt", "create", "--works", "--client-id", "c", "--service-account", "ab1cd.serviceaccount", "--key", PKCS8]), /--service-account must be a service account ID/);
  oneLineError(await runCli(["jwt", "create", "--works", "--service-account", SA, "--key", PKCS8]), /client-id/);
  oneLineError(await runCli([...base, "--kid", "k"]), /--kid is for LINE assertions/);
  oneLineError(await runCli([...base, "--token-exp", "1d"]), /--token-exp is for LINE assertions/);
  oneLineError(await runCli(["jwt", "create", "--client-id", "c", "--service-account", SA, "--key", PKCS8]), /--client-id is for LINE WORKS assertions: add --works/);
  oneLineError(await runCli(["jwt", "create", "--works", "--client-id", "c", "--service-account", SA, "--key", KEYS_DIR + "rsa1024.private.pem"]), /1024-bit/);
  oneLineError(await runCli(["jwt", "create", "--works", "--client-id", "c", "--service-account", SA, "--key", KEYS_DIR + "ec-p256.private.pem"]), /RSA/);
  oneLineError(await runCli(["jwt", "create", "--works", "--client-id", "c", "--service-account", SA, "--key", KEYS_DIR + "rsa2048.spki.pem"]), /public key/);
  const pem = readFileSync(PKCS8, "utf8");
  assert.ok(!(await runCli([...base, "--expires-in", "2h"])).stderr.includes(pem.split("\n")[1]!.slice(0, 20)));
});

test("seed 003's mistakes, made by hand: refused by the emulator with invalid_grant and named by jwt inspect --works", async () => {
  const now = Math.floor(Date.now() / 1000);
  const cases: Array<[string, string, string[]]> = [
    ["standard Base64", signWorksAssertion(app, { encoding: "base64" }), ["JWT_B64_ALPHABET", "JWT_B64_PADDING"]],
    ["padded base64url", signWorksAssertion(app, { encoding: "base64url-padded" }), ["JWT_B64_PADDING"]],
    ["exp as a string", signWorksAssertion(app, { claims: { exp: String(now + 3600) } }), ["JWT_EXP_NOT_NUMBER"]],
    ["iat as a string", signWorksAssertion(app, { claims: { iat: String(now) } }), ["JWT_IAT_NOT_NUMBER"]],
  ];
  for (const [name, jwt, codes] of cases) {
    const refused = await postForm(emu.url, "/oauth2/v2.0/token", jwtBearerForm(app, jwt));
    assert.equal(refused.status, 400, name);
    assert.equal(refused.body.error, "invalid_grant", name);
    const r = await runCli(["jwt", "inspect", "--works", "--key", appPublicFile, "--json", jwt]);
    assert.equal(r.code, 1, name);
    const found = new Set(JSON.parse(r.stdout).findings.map((f: { code: string }) => f.code));
    assert.ok(codes.some((c) => found.has(c)), `${name}: ${[...found].join()}`);
    assert.ok([...found].every((c) => codes.includes(c as string)), `${name}: ${[...found].join()}`);
    const human = await runCli(["jwt", "inspect", "--works", "-"], { stdin: jwt });
    assert.equal(human.code, 1);
    assert.match(human.stdout, new RegExp(`\\[(${codes.join("|")})\\]`));
  }
  const good = signWorksAssertion(app);
  assert.equal((await postForm(emu.url, "/oauth2/v2.0/token", jwtBearerForm(app, good))).status, 200);
  assert.equal((await runCli(["jwt", "inspect", "--works", "--key", appPublicFile, good])).code, 0);
});
