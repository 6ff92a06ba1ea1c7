import { encodeBase64url } from "../base64url.ts";
import { KeyError } from "../errors.ts";
import type { Jwk } from "./types.ts";

/**
 * RFC 7638 JWK thumbprint (SHA-256, base64url) of an RSA key: tells keys apart before LINE
 * assigns a kid. Only kty, n and e count, so a private key and its public half agree.
 *
 * @example
 * ```ts
 * await jwkThumbprint({ kty: "RSA", n: "0vx7agoebGcQSuu…", e: "AQAB" });
 * // "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" for RFC 7638's example key
 * ```
 */
export async function jwkThumbprint(jwk: Jwk | { kty: string; n: string; e: string }): Promise<string> {
  const { kty, n, e } = jwk;
  if (kty !== "RSA" || typeof n !== "string" || typeof e !== "string") {
    throw new KeyError("a thumbprint needs an RSA JWK with string members n and e", { code: "ERR_KEY_INVALID" });
  }
  // Members in lexicographic order, no whitespace (RFC 7638 §3.2).
  const canonical = `{"e":${JSON.stringify(e)},"kty":"RSA","n":${JSON.stringify(n)}}`;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical));
  return encodeBase64url(new Uint8Array(digest));
}
