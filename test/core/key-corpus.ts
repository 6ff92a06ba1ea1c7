// A generated corpus of broken keys, each breaking exactly one of LINE's rules (not a test itself).
import { decodeBase64url, encodeBase64url } from "../../src/core/base64url.ts";
import type { KeyFindingCode } from "../../src/core/findings.ts";
import { keyText, vector } from "./vectors.ts";

// The LINE docs' PyJWT key: a clean RS256 private key whose n holds both "-" and "_".
export const PRIVATE = vector("line-docs-pyjwt").privateJwk;
export const PUBLIC = { kty: "RSA", alg: "RS256", use: "sig", n: PRIVATE["n"], e: PRIVATE["e"] };
export const N_1024 = (JSON.parse(keyText("rsa1024.private.jwk.json")) as Record<string, string>)["n"]!;

function without(jwk: Record<string, unknown>, ...names: string[]): Record<string, unknown> {
  const copy = { ...jwk };
  for (const n of names) delete copy[n];
  return copy;
}

function withLeadingZero(b64: string): string {
  const bytes = decodeBase64url(b64);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes, 1);
  return encodeBase64url(out);
}

const toStd = (s: string) => s.replace(/-/g, "+").replace(/_/g, "/");

/** Each entry breaks exactly one rule of a clean key; lint must report exactly that one finding. */
export const CORPUS: Array<{ name: string; key: Record<string, unknown>; code: KeyFindingCode; field: string; public?: boolean }> = [
  { name: "EC key", key: JSON.parse(keyText("ec-p256.private.jwk.json")), code: "KEY_KTY_NOT_RSA", field: "kty" },
  { name: "oct key", key: JSON.parse(keyText("oct.jwk.json")), code: "KEY_KTY_NOT_RSA", field: "kty" },
  { name: "kty missing", key: without(PUBLIC, "kty"), code: "KEY_KTY_NOT_RSA", field: "kty" },
  { name: "n is a number", key: { ...PUBLIC, n: 12345 }, code: "KEY_MEMBER_NOT_STRING", field: "n" },
  { name: "n padded", key: { ...PUBLIC, n: PUBLIC.n + "==" }, code: "KEY_B64_PADDING", field: "n" },
  { name: "n in standard base64", key: { ...PUBLIC, n: toStd(PUBLIC.n as string) }, code: "KEY_B64_ALPHABET", field: "n" },
  { name: "d padded", key: { ...PRIVATE, d: PRIVATE["d"] + "==" }, code: "KEY_B64_PADDING", field: "d" },
  { name: "qi in standard base64", key: { ...PRIVATE, qi: toStd(PRIVATE["qi"] as string) }, code: "KEY_B64_ALPHABET", field: "qi" },
  { name: "n missing", key: without(PUBLIC, "n"), code: "KEY_N_MISSING", field: "n" },
  { name: "n with a leading zero octet", key: { ...PRIVATE, n: withLeadingZero(PRIVATE["n"] as string) }, code: "KEY_N_LEADING_ZERO", field: "n" },
  { name: "1024-bit modulus", key: { ...PUBLIC, n: N_1024 }, code: "KEY_MODULUS_SIZE", field: "n" },
  { name: "4096-bit key", key: without(JSON.parse(keyText("rsa4096.private.jwk.json")), "kid"), code: "KEY_MODULUS_SIZE", field: "n" },
  { name: "e missing", key: without(PUBLIC, "e"), code: "KEY_E_MISSING", field: "e" },
  { name: "e even", key: { ...PUBLIC, e: "AQAA" }, code: "KEY_E_INVALID", field: "e" },
  { name: "e = 3", key: { ...PUBLIC, e: "Aw" }, code: "KEY_E_UNUSUAL", field: "e" },
  { name: "alg missing", key: without(PUBLIC, "alg"), code: "KEY_ALG_MISSING", field: "alg" },
  { name: "alg RS512", key: { ...PUBLIC, alg: "RS512" }, code: "KEY_ALG_NOT_RS256", field: "alg" },
  { name: "use and key_ops missing", key: without(PUBLIC, "use"), code: "KEY_USE_MISSING", field: "use" },
  { name: "use enc", key: { ...PUBLIC, use: "enc" }, code: "KEY_USE_NOT_SIG", field: "use" },
  { name: "public key_ops sign", key: { ...without(PUBLIC, "use"), key_ops: ["sign"] }, code: "KEY_OPS_INVALID", field: "key_ops" },
  { name: "public key_ops verify+sign", key: { ...without(PUBLIC, "use"), key_ops: ["verify", "sign"] }, code: "KEY_OPS_INVALID", field: "key_ops" },
  { name: "private key_ops verify", key: { ...without(PRIVATE, "use"), key_ops: ["verify"] }, code: "KEY_OPS_INVALID", field: "key_ops" },
  { name: "use and key_ops both", key: { ...PUBLIC, key_ops: ["verify"] }, code: "KEY_USE_AND_KEY_OPS", field: "key_ops" },
  { name: "kid on the public key", key: { ...PUBLIC, kid: "536e453c-aa93-4449-8e90-add2608783c6" }, code: "KEY_KID_PRESENT", field: "kid" },
  { name: "p in a public key", key: { ...PUBLIC, p: PRIVATE["p"] }, code: "KEY_PRIVATE_MEMBER_IN_PUBLIC", field: "p" },
  { name: "d in a key linted as public", key: { ...PUBLIC, d: PRIVATE["d"] }, code: "KEY_PRIVATE_MEMBER_IN_PUBLIC", field: "d", public: true },
  { name: "qi missing", key: without(PRIVATE, "qi"), code: "KEY_PRIVATE_INCOMPLETE", field: "qi" },
  { name: "multi-prime", key: { ...PRIVATE, oth: [] }, code: "KEY_MULTI_PRIME", field: "oth" },
  { name: "n of another key", key: { ...PRIVATE, n: vector("rfc7515-a2").privateJwk["n"] }, code: "KEY_PRIVATE_MISMATCH", field: "p" },
  { name: "dq of another key", key: { ...PRIVATE, dq: vector("rfc7515-a2").privateJwk["dq"] }, code: "KEY_PRIVATE_MISMATCH", field: "dq" },
  { name: "qi of another key", key: { ...PRIVATE, qi: vector("rfc7515-a2").privateJwk["qi"] }, code: "KEY_PRIVATE_MISMATCH", field: "qi" },
];
