// LINE WORKS service-account assertions: built by src/core, checked by inspectJws with
// `rules: "works"`, which names seed 003's mistakes (made by hand with node:crypto) with the
// existing codes; scope and service-account parsing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidInputError, JwsFormatError } from "../../src/core/errors.ts";
import { checkServiceAccount, createWorksAssertion, parseWorksScopes } from "../../src/core/jwt/works-assertion.ts";
import { inspectJws } from "../../src/core/jwt/inspect.ts";
import { importAssertionKey, importVerifyKey } from "../../src/core/keys/import.ts";
import { testKeyPair } from "../helpers/emulator.ts";
import { signWorksAssertion } from "../helpers/works-emulator.ts";

const { privateJwk, publicJwk } = await testKeyPair();
const key = await importAssertionKey(privateJwk as Record<string, unknown>);
const verifyKey = await importVerifyKey(publicJwk);
const NOW = 1_700_000_000_000;
const NOW_S = NOW / 1000;
const APP = { clientId: "AbCdEf123", serviceAccount: "ab1cd.serviceaccount@example.com", privateJwk };

async function worksCodes(jwt: string): Promise<string[]> {
  return [...new Set((await inspectJws(jwt, { rules: "works", now: NOW, key: verifyKey })).findings.map((f) => f.code))];
}

test("createWorksAssertion: no kid, iss = Client ID, sub = service account, numeric iat/exp an hour apart, base64url", async () => {
  const jwt = await createWorksAssertion(key, { clientId: APP.clientId, serviceAccount: APP.serviceAccount, now: NOW + 999 });
  assert.match(jwt, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  const [h, p] = jwt.split(".").slice(0, 2).map((s) => JSON.parse(Buffer.from(s, "base64url").toString("utf8")));
  assert.deepEqual(h, { alg: "RS256", typ: "JWT" });
  assert.deepEqual(p, { iss: APP.clientId, sub: APP.serviceAccount, iat: NOW_S, exp: NOW_S + 3600 });
  const result = await inspectJws(jwt, { rules: "works", now: NOW, key: verifyKey });
  assert.deepEqual(result.findings, []);
  assert.equal(result.signature, "valid");
  // The same token judged by LINE's rules is wrong in LINE's ways: the rules really differ.
  const asLine = (await inspectJws(jwt, { now: NOW })).findings.map((f) => f.code);
  assert.deepEqual(asLine, ["JWT_KID_MISSING", "JWT_ISS_SUB_MISMATCH", "JWT_AUD_MISSING", "JWT_EXP_TOO_FAR", "JWT_TOKEN_EXP_MISSING"]);
  const short = await createWorksAssertion(key, { ...APP, expiresIn: 60, now: NOW });
  assert.equal(JSON.parse(Buffer.from(short.split(".")[1]!, "base64url").toString()).exp, NOW_S + 60);
});

test("createWorksAssertion refuses bad input, never clamping", async () => {
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...APP, serviceAccount: "ab1cd.serviceaccount" }, /service account ID/],
    [{ ...APP, serviceAccount: 42 }, /service account ID/],
    [{ ...APP, clientId: "has space" }, /Client ID/],
    [{ ...APP, clientId: "" }, /Client ID/],
    [{ ...APP, expiresIn: 3601 }, /1 to 3600/],
    [{ ...APP, expiresIn: 0 }, /1 to 3600/],
    [{ ...APP, expiresIn: 1.5 }, /1 to 3600/],
    [{ ...APP, now: Number.NaN }, /now/],
  ];
  for (const [options, message] of bad) {
    await assert.rejects(createWorksAssertion(key, options as never), (e: unknown) => e instanceof InvalidInputError && message.test(e.message), JSON.stringify(options));
  }
  assert.equal(checkServiceAccount("x@y"), "x@y");
});

test("seed 003's mistakes, made by hand, are named with the existing codes", async () => {
  const b64 = signWorksAssertion(APP, { nowSeconds: NOW_S, encoding: "base64" });
  assert.match(b64, /[+/=]/, "the hand-made token really uses the Base64 alphabet or padding");
  const b64codes = await worksCodes(b64);
  assert.ok(b64codes.includes("JWT_B64_ALPHABET") || b64codes.includes("JWT_B64_PADDING"), b64codes.join());
  assert.ok(b64codes.every((c) => c === "JWT_B64_ALPHABET" || c === "JWT_B64_PADDING"), b64codes.join());
  assert.deepEqual(await worksCodes(signWorksAssertion(APP, { nowSeconds: NOW_S, encoding: "base64url-padded" })), ["JWT_B64_PADDING"]);
  assert.deepEqual(await worksCodes(signWorksAssertion(APP, { nowSeconds: NOW_S, claims: { exp: String(NOW_S + 3600) } })), ["JWT_EXP_NOT_NUMBER"]);
  assert.deepEqual(await worksCodes(signWorksAssertion(APP, { nowSeconds: NOW_S, claims: { iat: String(NOW_S) } })), ["JWT_IAT_NOT_NUMBER"]);
  assert.deepEqual(await worksCodes(signWorksAssertion(APP, { nowSeconds: NOW_S, claims: { iat: String(NOW_S), exp: String(NOW_S + 3600) } })), ["JWT_EXP_NOT_NUMBER", "JWT_IAT_NOT_NUMBER"]);
});

test("LINE WORKS' other rules: no kid, no aud, no token_exp, iat present, at most an hour, sub a service account", async () => {
  const cases: Array<[Parameters<typeof signWorksAssertion>[1], string[]]> = [
    [{ header: { kid: "k1" } }, ["JWT_KID_PRESENT"]],
    [{ claims: { aud: "https://auth.worksmobile.com/oauth2/v2.0/token" } }, ["JWT_AUD_PRESENT"]],
    [{ claims: { token_exp: 86400 } }, ["JWT_TOKEN_EXP_PRESENT"]],
    [{ claims: { iat: undefined } }, ["JWT_IAT_MISSING"]],
    [{ claims: { exp: NOW_S + 3601 } }, ["JWT_EXP_TOO_FAR"]],
    [{ claims: { sub: APP.clientId } }, ["JWT_SUB_NOT_SERVICE_ACCOUNT"]],
    [{ claims: { sub: 12345 } }, ["JWT_SUB_NOT_STRING"]],
    [{ claims: { iss: undefined } }, ["JWT_ISS_MISSING"]],
    [{ claims: { exp: NOW_S - 1, iat: NOW_S - 3601 } }, ["JWT_EXP_PAST"]],
  ];
  for (const [options, codes] of cases) {
    assert.deepEqual(await worksCodes(signWorksAssertion(APP, { nowSeconds: NOW_S, ...options })), codes, JSON.stringify(options));
  }
  const tooFar = (await inspectJws(signWorksAssertion(APP, { nowSeconds: NOW_S, claims: { exp: NOW_S + 3601 } }), { rules: "works", now: NOW })).findings[0]!;
  assert.match(tooFar.message, /LINE WORKS allows at most 3600 s \(60 minutes\)/);
  await assert.rejects(inspectJws("a.b", { rules: "works" }), JwsFormatError);
});

test("parseWorksScopes takes comma- or space-separated scopes and refuses other separators", () => {
  for (const text of ["bot,user.read", "bot user.read", "bot, user.read", " bot\tuser.read ", "bot,bot user.read"]) {
    assert.deepEqual(parseWorksScopes(text), ["bot", "user.read"], text);
  }
  for (const [text, message] of [["bot;user.read", /";"/], ["bot+user.read", /"\+"/], ["bot|user.read", /"\|"/], ["", /empty/], [" , ", /empty/], ["bot user..read", /not a scope name/]] as const) {
    assert.throws(() => parseWorksScopes(text), (e: unknown) => e instanceof InvalidInputError && message.test(e.message), text);
  }
  assert.throws(() => parseWorksScopes(42), InvalidInputError);
});
