/**
 * The private key of an OAuth client that authenticates with `private_key_jwt` (RFC 7523 §2.2):
 * which keys and algorithms are taken, and the client authentication built from a stored key. The
 * key is the registration credential's own (sealed) private key; its `kid` column is the key ID
 * the provider knows it by; the algorithm is a setting.
 *
 * @module
 */
import { importJWK } from "jose";
import { privateKeyJwt, type ClientAuth } from "../../clients/oauth/client-auth.ts";
import { InvalidInputError } from "../../core/errors.ts";

/** Signing algorithms a client key may use (RFC 7518, RFC 8037). */
export const CLIENT_KEY_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"] as const;

/** The algorithm a client key signs with. */
export type ClientKeyAlg = (typeof CLIENT_KEY_ALGS)[number];

const EC_ALG: Readonly<Record<string, ClientKeyAlg>> = { "P-256": "ES256", "P-384": "ES384", "P-521": "ES512" };
/** Shortest RSA modulus taken, bits (RFC 7518 §3.3). */
const MIN_RSA_BITS = 2048;

/** The key ID the provider knows the key by: printable, no spaces, at most 256 characters. */
export function checkClientKeyId(kid: string, field = "--key-id"): string {
  if (kid === "" || kid.length > 256 || /[\u0000-\u0020"\\]/.test(kid)) throw new InvalidInputError(`${field} must be 1-256 printable characters without spaces or quotes`, { field });
  return kid;
}

/**
 * Checks a client's private key (a JWK) and the algorithm it is to sign with: RSA of 2048 bits or
 * more with RS256-512 or PS256-512, EC P-256/P-384/P-521 with ES256/ES384/ES512, Ed25519 with EdDSA. `alg`
 * undefined: the key's own `alg`, else RS256 for RSA and the curve's for EC and Ed25519. Returns
 * the private members only (no `kid`, `use` or `key_ops` to disagree with the settings) and the
 * algorithm. Never shows key material.
 *
 * @example
 * ```ts
 * const { jwk, alg } = checkClientKey(JSON.parse(text)); // alg "ES256" for a P-256 key
 * ```
 */
export function checkClientKey(key: Record<string, unknown>, alg?: string, field = "--key"): { jwk: Record<string, unknown>; alg: ClientKeyAlg } {
  const bad = (why: string) => new InvalidInputError(`${field}: ${why}`, { field });
  if (key === null || typeof key !== "object") throw bad("not a JWK");
  const kty = key["kty"];
  if (typeof key["d"] !== "string" || key["d"] === "") throw bad("a public key: private_key_jwt signs with the private key (the provider keeps the public one)");
  const wanted = alg ?? (typeof key["alg"] === "string" ? key["alg"] : undefined);
  if (wanted !== undefined && !(CLIENT_KEY_ALGS as readonly string[]).includes(wanted)) throw new InvalidInputError(`--key-alg must be one of ${CLIENT_KEY_ALGS.join(", ")}, not ${JSON.stringify(wanted.slice(0, 20))}`, { field: "--key-alg" });
  let keyAlg: ClientKeyAlg;
  let members: string[];
  if (kty === "RSA") {
    const n = typeof key["n"] === "string" ? key["n"] : "";
    const bits = Math.floor((n.replace(/=+$/, "").length * 6) / 8) * 8;
    if (bits < MIN_RSA_BITS) throw bad(`an RSA key of ${bits} bits: at least ${MIN_RSA_BITS} are needed`);
    keyAlg = (wanted ?? "RS256") as ClientKeyAlg;
    if (!/^(RS|PS)\d{3}$/.test(keyAlg)) throw bad(`an RSA key cannot sign ${keyAlg} (RS256, RS384, RS512, PS256, PS384 or PS512)`);
    members = ["kty", "n", "e", "d", "p", "q", "dp", "dq", "qi"];
  } else if (kty === "EC") {
    const own = EC_ALG[String(key["crv"])];
    if (own === undefined) throw bad("an EC key must be on P-256, P-384 or P-521");
    keyAlg = (wanted ?? own) as ClientKeyAlg;
    if (keyAlg !== own) throw bad(`an EC key on ${String(key["crv"])} signs ${own}, not ${keyAlg}`);
    members = ["kty", "crv", "x", "y", "d"];
  } else if (kty === "OKP" && key["crv"] === "Ed25519") {
    keyAlg = (wanted ?? "EdDSA") as ClientKeyAlg;
    if (keyAlg !== "EdDSA") throw bad(`an Ed25519 key signs EdDSA, not ${keyAlg}`);
    members = ["kty", "crv", "x", "d"];
  } else {
    throw bad(`kty ${typeof kty === "string" ? JSON.stringify(kty.slice(0, 10)) : "missing"} is not a signing key for private_key_jwt (RSA, EC or Ed25519)`);
  }
  const jwk: Record<string, unknown> = {};
  for (const m of members) {
    if (key[m] !== undefined) jwk[m] = key[m];
  }
  return { jwk, alg: keyAlg };
}

/**
 * The `private_key_jwt` client authentication of a stored client key.
 *
 * @example
 * ```ts
 * const auth = await clientKeyAuth(credential.privateKey, "ES256", credential.kid);
 * ```
 */
export async function clientKeyAuth(jwk: Record<string, unknown>, alg: string, kid: string): Promise<ClientAuth> {
  const { jwk: checked, alg: checkedAlg } = checkClientKey(jwk, alg, "the stored client key");
  const key = (await importJWK(checked, checkedAlg)) as CryptoKey;
  return privateKeyJwt(key, { alg: checkedAlg, ...(kid !== "" ? { kid } : {}) });
}
