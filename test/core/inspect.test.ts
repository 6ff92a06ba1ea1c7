import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { importAssertionKey, importVerifyKey } from "../../src/core/keys/import.ts";
import { jwkThumbprint } from "../../src/core/keys/thumbprint.ts";
import { inspectJws } from "../../src/core/jwt/inspect.ts";
import { verifyJws } from "../../src/core/jwt/verify.ts";
import { signJws } from "../../src/core/jwt/sign.ts";
import { createLineAssertion } from "../../src/core/jwt/assertion.ts";
import { JwsFormatError } from "../../src/core/errors.ts";
import { JWT_FINDING_CODES, KEY_FINDING_CODES } from "../../src/core/findings.ts";
import { VECTORS_DIR, vector } from "./vectors.ts";

const pyjwt = vector("line-docs-pyjwt");
const key = await importAssertionKey(pyjwt.privateJwk);
const NOW = 1_700_000_000_000;
const NOW_S = NOW / 1000;
const HEADER = { alg: "RS256", typ: "JWT", kid: "9869e446-3489-4516-a83f-ec9214ad94d0" };
const PAYLOAD = { iss: "1234567890", sub: "1234567890", aud: "https://api.line.me/", exp: NOW_S + 300, token_exp: 2592000 };

async function codesOf(header: Record<string, unknown>, payload: Record<string, unknown>): Promise<Array<[string, string]>> {
  const jwt = await signJws(key, { ...header, alg: header["alg"] === undefined ? "RS256" : "RS256" }, payload);
  // signJws insists on RS256, so other algs are spliced into an already-signed token.
  const patched = header["alg"] === "RS256" ? jwt : Buffer.from(JSON.stringify(header)).toString("base64url") + jwt.slice(jwt.indexOf("."));
  const { findings } = await inspectJws(patched, { now: NOW });
  return findings.map((f) => [f.code, f.field]);
}

test("a token from createLineAssertion has no findings and a valid signature", async () => {
  const jwt = await createLineAssertion(key, { channelId: "1234567890", kid: "k1", now: NOW });
  const result = await inspectJws(jwt, { key: await importVerifyKey(pyjwt.privateJwk), now: NOW });
  assert.deepEqual(result.findings, []);
  assert.equal(result.signature, "valid");
  assert.equal((await inspectJws(jwt, { now: NOW })).signature, "not-checked");
});

test("inspectJws names each LINE mistake alone, with its field", async () => {
  const cases: Array<[string, Record<string, unknown>, Record<string, unknown>, string, string]> = [
    ["aud without slash", HEADER, { ...PAYLOAD, aud: "https://api.line.me" }, "JWT_AUD_NO_TRAILING_SLASH", "payload.aud"],
    ["aud over http", HEADER, { ...PAYLOAD, aud: "http://api.line.me/" }, "JWT_AUD_HTTP", "payload.aud"],
    ["aud with path", HEADER, { ...PAYLOAD, aud: "https://api.line.me/oauth2/v2.1/token" }, "JWT_AUD_EXTRA_PATH", "payload.aud"],
    ["aud array", HEADER, { ...PAYLOAD, aud: ["https://api.line.me/"] }, "JWT_AUD_ARRAY", "payload.aud"],
    ["aud other", HEADER, { ...PAYLOAD, aud: "https://example.com/" }, "JWT_AUD_WRONG", "payload.aud"],
    ["aud missing", HEADER, { ...PAYLOAD, aud: undefined }, "JWT_AUD_MISSING", "payload.aud"],
    ["exp string", HEADER, { ...PAYLOAD, exp: String(NOW_S + 300) }, "JWT_EXP_NOT_NUMBER", "payload.exp"],
    ["exp fraction", HEADER, { ...PAYLOAD, exp: NOW_S + 300.5 }, "JWT_EXP_NOT_INTEGER", "payload.exp"],
    ["exp past", HEADER, { ...PAYLOAD, exp: NOW_S - 1 }, "JWT_EXP_PAST", "payload.exp"],
    ["exp 31 minutes ahead", HEADER, { ...PAYLOAD, exp: NOW_S + 1860 }, "JWT_EXP_TOO_FAR", "payload.exp"],
    ["exp 31 minutes after iat", HEADER, { ...PAYLOAD, iat: NOW_S - 1560, exp: NOW_S + 300 }, "JWT_EXP_TOO_FAR", "payload.exp"],
    ["exp missing", HEADER, { ...PAYLOAD, exp: undefined }, "JWT_EXP_MISSING", "payload.exp"],
    ["iat string", HEADER, { ...PAYLOAD, iat: String(NOW_S) }, "JWT_IAT_NOT_NUMBER", "payload.iat"],
    ["iat fraction", HEADER, { ...PAYLOAD, iat: NOW_S + 0.25 }, "JWT_IAT_NOT_INTEGER", "payload.iat"],
    ["nbf string", HEADER, { ...PAYLOAD, nbf: String(NOW_S) }, "JWT_NBF_NOT_NUMBER", "payload.nbf"],
    ["nbf fraction", HEADER, { ...PAYLOAD, nbf: NOW_S - 0.5 }, "JWT_NBF_NOT_INTEGER", "payload.nbf"],
    ["nbf future", HEADER, { ...PAYLOAD, nbf: NOW_S + 60 }, "JWT_NBF_FUTURE", "payload.nbf"],
    ["iss number", HEADER, { ...PAYLOAD, iss: 1234567890 }, "JWT_ISS_NOT_STRING", "payload.iss"],
    ["sub number", HEADER, { ...PAYLOAD, sub: 1234567890 }, "JWT_SUB_NOT_STRING", "payload.sub"],
    ["iss missing", HEADER, { ...PAYLOAD, iss: undefined }, "JWT_ISS_MISSING", "payload.iss"],
    ["sub missing", HEADER, { ...PAYLOAD, sub: undefined }, "JWT_SUB_MISSING", "payload.sub"],
    ["iss differs from sub", HEADER, { ...PAYLOAD, sub: "1234567891" }, "JWT_ISS_SUB_MISMATCH", "payload.sub"],
    ["token_exp missing", HEADER, { ...PAYLOAD, token_exp: undefined }, "JWT_TOKEN_EXP_MISSING", "payload.token_exp"],
    ["token_exp string", HEADER, { ...PAYLOAD, token_exp: "2592000" }, "JWT_TOKEN_EXP_NOT_NUMBER", "payload.token_exp"],
    ["token_exp fraction", HEADER, { ...PAYLOAD, token_exp: 86400.5 }, "JWT_TOKEN_EXP_NOT_INTEGER", "payload.token_exp"],
    ["token_exp over 30 days", HEADER, { ...PAYLOAD, token_exp: 2592001 }, "JWT_TOKEN_EXP_TOO_LONG", "payload.token_exp"],
    ["token_exp zero", HEADER, { ...PAYLOAD, token_exp: 0 }, "JWT_TOKEN_EXP_NOT_POSITIVE", "payload.token_exp"],
    ["typ missing", { ...HEADER, typ: undefined }, PAYLOAD, "JWT_TYP_MISSING", "header.typ"],
    ["typ other", { ...HEADER, typ: "JWS" }, PAYLOAD, "JWT_TYP_NOT_JWT", "header.typ"],
    ["kid missing", { ...HEADER, kid: undefined }, PAYLOAD, "JWT_KID_MISSING", "header.kid"],
    ["kid number", { ...HEADER, kid: 7 }, PAYLOAD, "JWT_KID_NOT_STRING", "header.kid"],
    ["alg missing", { typ: "JWT", kid: "k" }, PAYLOAD, "JWT_ALG_MISSING", "header.alg"],
    ["alg RS512", { ...HEADER, alg: "RS512" }, PAYLOAD, "JWT_ALG_NOT_RS256", "header.alg"],
  ];
  for (const [name, header, payload, code, field] of cases) {
    assert.deepEqual(await codesOf(header, payload), [[code, field]], name);
  }
});

test("alg none and HS256 are errors, and an empty signature is reported", async () => {
  const none = Buffer.from('{"alg":"none","typ":"JWT","kid":"k"}').toString("base64url") + "." + Buffer.from(JSON.stringify(PAYLOAD)).toString("base64url") + ".";
  const r = await inspectJws(none, { now: NOW });
  assert.deepEqual(r.findings.map((f) => f.code), ["JWT_ALG_NONE", "JWT_SIGNATURE_MISSING"]);
  assert.deepEqual(await codesOf({ ...HEADER, alg: "HS256" }, PAYLOAD), [["JWT_ALG_HMAC", "header.alg"]]);
  const withKey = await inspectJws(none, { now: NOW, key });
  assert.equal(withKey.signature, "invalid");
});

test("padding and standard-base64 segments are findings; the signature is still checked over the bytes as sent", async () => {
  const jwt = await createLineAssertion(key, { channelId: "1", kid: "k", now: NOW });
  const [h, p, s] = jwt.split(".");
  const padded = `${h}==.${p}.${s}`;
  const r = await inspectJws(padded, { now: NOW, key });
  assert.deepEqual(r.findings.map((f) => [f.code, f.field]), [["JWT_B64_PADDING", "header"], ["JWT_SIGNATURE_INVALID", "signature"]]);
  const std = `${h}.${p}.${s!.replace(/-/g, "+").replace(/_/g, "/")}`;
  const r2 = await inspectJws(std, { now: NOW, key });
  assert.ok(r2.findings.some((f) => f.code === "JWT_B64_ALPHABET" && f.field === "signature"), "alphabet");
  assert.equal(r2.signature, "valid");
});

test("a truncated signature is reported by length; a token that is no JWS throws JwsFormatError", async () => {
  const jwt = await createLineAssertion(key, { channelId: "1", kid: "k", now: NOW });
  const r = await inspectJws(jwt.slice(0, -20), { now: NOW });
  assert.deepEqual(r.findings.map((f) => f.code), ["JWT_SIGNATURE_LENGTH"]);
  for (const bad of ["", "abc", "a.b", "a.b.c.d", jwt.slice(0, jwt.indexOf(".") + 10), "eyJhbGciOiJSUzI1NiJ9.!!!.sig", "W10.e30.", "e30.bm90IGpzb24.x"]) {
    await assert.rejects(inspectJws(bad), JwsFormatError, JSON.stringify(bad));
  }
});

test("the LINE docs' node-jose sample gets the findings it deserves", async () => {
  const v = vector("line-docs-node-jose");
  const r = await inspectJws(v.jwt!, { key: await importVerifyKey(v.privateJwk) });
  assert.equal(r.signature, "invalid");
  assert.deepEqual(r.findings.map((f) => [f.code, f.field]), [
    ["JWT_KID_KEY_MISMATCH", "header.kid"],
    ["JWT_EXP_NOT_NUMBER", "payload.exp"],
    ["JWT_EXP_PAST", "payload.exp"],
    ["JWT_TOKEN_EXP_NOT_NUMBER", "payload.token_exp"],
    ["JWT_SIGNATURE_INVALID", "signature"],
  ]);
  assert.equal(r.payload["exp"], "1585200062");
});

test("the LINE docs' PyJWT sample verifies with its key and is only expired", async () => {
  const r = await inspectJws(pyjwt.jwt!, { key: await importVerifyKey(pyjwt.privateJwk) });
  assert.equal(r.signature, "valid");
  assert.deepEqual(r.findings.map((f) => f.code), ["JWT_EXP_PAST"]);
  assert.deepEqual(r.header, { typ: "JWT", alg: "RS256", kid: "9869e446-3489-4516-a83f-ec9214ad94d0" });
});

test("verifyJws accepts only RS256 signatures by the key, and throws on non-JWS text", async () => {
  const a2 = vector("rfc7515-a2");
  const a2Key = await importVerifyKey(a2.privateJwk);
  const ok = await verifyJws(a2.jws!, a2Key);
  assert.equal(ok.valid, true);
  assert.deepEqual(ok.header, { alg: "RS256" });
  assert.deepEqual(ok.payload, JSON.parse(a2.payload));
  assert.equal(JSON.stringify(ok), JSON.stringify({ valid: true, header: { alg: "RS256" }, payload: JSON.parse(a2.payload) }));
  assert.equal((await verifyJws(a2.jws!, key)).valid, false);
  const tampered = a2.jws!.replace(".eyJpc3MiOiJqb2Ui", ".eyJpc3MiOiJqb2Yi");
  assert.equal((await verifyJws(tampered, a2Key)).valid, false);
  const hs = Buffer.from('{"alg":"HS256"}').toString("base64url") + a2.jws!.slice(a2.jws!.indexOf("."));
  assert.equal((await verifyJws(hs, a2Key)).valid, false);
  await assert.rejects(verifyJws("a.b", a2Key), JwsFormatError);
  await assert.rejects(verifyJws("!!.e30.x", a2Key), JwsFormatError);
});

test("jwkThumbprint reproduces RFC 7638's example", async () => {
  const v = JSON.parse(readFileSync(VECTORS_DIR + "rfc7638.json", "utf8")) as { jwk: Record<string, unknown>; thumbprint: string };
  assert.equal(await jwkThumbprint(v.jwk), v.thumbprint);
});

test("docs/keys-and-jwt.md lists every finding code", () => {
  const docs = readFileSync(new URL("../../docs/keys-and-jwt.md", import.meta.url), "utf8");
  for (const code of [...Object.keys(KEY_FINDING_CODES), ...Object.keys(JWT_FINDING_CODES)]) assert.ok(docs.includes(code), `${code} missing from docs`);
});
