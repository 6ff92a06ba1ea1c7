import { jwkThumbprint } from "./thumbprint.ts";
import { LINE_KEY_BITS, type RsaPrivateJwk, type RsaPublicJwk } from "./types.ts";

/** A fresh assertion key pair. `privateJwk` is a secret: store it sealed, never log it. */
export interface GeneratedKeyPair {
  privateJwk: RsaPrivateJwk;
  /** Exactly kty, alg, use (or key_ops), n, e, in that order: ready for the LINE Developers Console. */
  publicJwk: RsaPublicJwk;
  /** RFC 7638 thumbprint, to tell keys apart before LINE assigns a kid. */
  thumbprint: string;
}

/** Options for {@link generateAssertionKeyPair}. */
export interface GenerateKeyOptions {
  /** Mark usage with `key_ops` (["verify"] / ["sign"]) instead of `use: "sig"`. Default false. */
  keyOps?: boolean;
}

/**
 * Generates an RSA-2048 RS256 key pair that meets LINE's assertion-key rules (e = 65537).
 * The public JWK never has a kid: the console assigns one and refuses keys that carry it.
 *
 * @example
 * ```ts
 * const { privateJwk, publicJwk, thumbprint } = await generateAssertionKeyPair();
 * console.log(JSON.stringify(publicJwk)); // paste into the LINE Developers Console
 * ```
 */
export async function generateAssertionKeyPair(options: GenerateKeyOptions = {}): Promise<GeneratedKeyPair> {
  const pair = await crypto.subtle.generateKey(
    { name: "RSASSA-PKCS1-v1_5", modulusLength: LINE_KEY_BITS, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    true,
    ["sign", "verify"],
  );
  const x = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as Record<string, string>;
  const pubUsage = options.keyOps ? { key_ops: ["verify"] } : { use: "sig" };
  const privUsage = options.keyOps ? { key_ops: ["sign"] } : { use: "sig" };
  const publicJwk = { kty: "RSA", alg: "RS256", ...pubUsage, n: x["n"]!, e: x["e"]! } as RsaPublicJwk;
  const privateJwk = {
    kty: "RSA", alg: "RS256", ...privUsage, n: x["n"]!, e: x["e"]!,
    d: x["d"]!, p: x["p"]!, q: x["q"]!, dp: x["dp"]!, dq: x["dq"]!, qi: x["qi"]!,
  } as RsaPrivateJwk;
  return { privateJwk, publicJwk, thumbprint: await jwkThumbprint(publicJwk) };
}
