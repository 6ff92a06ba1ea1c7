/** JWK shapes for RSA assertion keys (RFC 7517, RFC 7518 §6.3). */

/** Any JSON Web Key, as parsed from text: members not yet trusted. */
export type Jwk = Record<string, unknown>;

/** The public half of an RSA key as a JWK. */
export interface RsaPublicJwk {
  kty: "RSA";
  n: string;
  e: string;
  alg?: string;
  use?: string;
  key_ops?: string[];
  kid?: string;
}

/** An RSA private key as a JWK, with the CRT members WebCrypto needs. */
export interface RsaPrivateJwk extends RsaPublicJwk {
  d: string;
  p: string;
  q: string;
  dp: string;
  dq: string;
  qi: string;
}

/** Members that make a JWK private (RFC 7518 §6.3.2, and `k` of oct keys). Never printed. */
export const PRIVATE_MEMBERS: readonly string[] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/** The CRT members an RSA private JWK must carry besides `d`. */
export const CRT_MEMBERS = ["p", "q", "dp", "dq", "qi"] as const;

/** LINE's assertion keys are RSA with a modulus of exactly this many bits. */
export const LINE_KEY_BITS = 2048;

/**
 * Returns the public members of a JWK object (never one of {@link PRIVATE_MEMBERS}), for
 * messages and output.
 *
 * @example
 * ```ts
 * publicMembersOf({ kty: "RSA", n: "…", e: "AQAB", d: "…" }); // { kty, n, e }
 * ```
 */
export function publicMembersOf(jwk: Jwk): Jwk {
  const out: Jwk = {};
  for (const [k, v] of Object.entries(jwk)) if (!PRIVATE_MEMBERS.includes(k)) out[k] = v;
  return out;
}
