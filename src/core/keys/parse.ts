import { KeyError } from "../errors.ts";
import { algorithmOf, pkcs1PrivateToPkcs8, pkcs1PublicToSpki, readPemBlock } from "./der.ts";
import type { Jwk, RsaPublicJwk } from "./types.ts";

/** What a key text turned out to be. */
export interface ParsedKey {
  /** How the key was written. */
  format: "jwk" | "pem";
  /** The key as a JWK (for PEM: converted, with only kty, n, e and the private members). */
  jwk: Jwk;
  /** True when the key carries a private exponent `d` (or `k` for oct keys). */
  isPrivate: boolean;
}

/** Input accepted wherever a key is read: a JWK object, JWK JSON text, or PEM text. */
export type KeyInput = Jwk | RsaPublicJwk | string;

const RSA_IMPORT = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;

/** A value safe to echo in a message: short identifier-like strings only, never key material. */
export function safeName(value: unknown): string {
  return typeof value === "string" && /^[\w.+-]{1,24}$/.test(value) ? value : "(unreadable)";
}

/**
 * Reads a key from a JWK object, JWK JSON text or PEM text (PKCS #8, PKCS #1, SPKI) without
 * judging it. Errors are {@link KeyError}s that name the problem and never echo key material
 * (JSON.parse's own message quotes the input, so it is not used).
 *
 * @example
 * ```ts
 * const { jwk, isPrivate } = await parseKey(await readFile("private.jwk.json", "utf8"));
 * ```
 */
export async function parseKey(input: KeyInput): Promise<ParsedKey> {
  if (typeof input !== "string") return fromJwk(input as Jwk);
  const text = input.replace(/^\uFEFF/, "").trim();
  if (text === "") throw new KeyError("the key is empty: expected a JWK (JSON) or a PEM key", { code: "ERR_KEY_PARSE" });
  if (text.startsWith("{") || text.startsWith("[")) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new KeyError("the key is not valid JSON: expected a JWK object such as {\"kty\":\"RSA\",...}", { code: "ERR_KEY_PARSE" });
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new KeyError("the key JSON is not an object: expected a single JWK", { code: "ERR_KEY_PARSE" });
    }
    return fromJwk(value as Jwk);
  }
  if (text.includes("-----BEGIN")) return fromPem(text);
  throw new KeyError("the key is neither a JWK (JSON object) nor a PEM key (-----BEGIN ...-----)", { code: "ERR_KEY_PARSE" });
}

function fromJwk(jwk: Jwk): ParsedKey {
  if (Array.isArray(jwk["keys"])) {
    throw new KeyError("this is a JWK Set ({\"keys\": [...]}): give a single key", { code: "ERR_KEY_PARSE" });
  }
  return { format: "jwk", jwk, isPrivate: jwk["d"] !== undefined || jwk["k"] !== undefined };
}

async function fromPem(text: string): Promise<ParsedKey> {
  const block = readPemBlock(text);
  const { label } = block;
  if (label === "ENCRYPTED PRIVATE KEY" || block.hasHeaders) {
    throw new KeyError("the PEM key is encrypted: decrypt it first (openssl pkey -in KEY -out plain.pem)", { code: "ERR_KEY_PARSE" });
  }
  let der = block.der;
  let kind: "private" | "public";
  switch (label) {
    case "PRIVATE KEY":
      kind = "private";
      break;
    case "RSA PRIVATE KEY":
      kind = "private";
      der = pkcs1PrivateToPkcs8(der);
      break;
    case "PUBLIC KEY":
      kind = "public";
      break;
    case "RSA PUBLIC KEY":
      kind = "public";
      der = pkcs1PublicToSpki(der);
      break;
    case "EC PRIVATE KEY":
    case "EC PARAMETERS":
      throw new KeyError("the PEM key is an EC key: LINE assertion keys must be RSA 2048-bit (kagiya keys generate makes one)", { code: "ERR_KEY_TYPE" });
    case "OPENSSH PRIVATE KEY":
      throw new KeyError("the key is in OpenSSH format: convert it to PKCS #8 PEM (ssh-keygen -p -m PKCS8 -f KEY) or use kagiya keys generate", { code: "ERR_KEY_PARSE" });
    case "CERTIFICATE":
      throw new KeyError("the PEM block is a certificate, not a key: give the public or private key", { code: "ERR_KEY_PARSE" });
    default:
      throw new KeyError(`the PEM block "${label}" is not a key kagiya reads (PRIVATE KEY, RSA PRIVATE KEY, PUBLIC KEY, RSA PUBLIC KEY)`, { code: "ERR_KEY_PARSE" });
  }
  const algorithm = algorithmOf(der, kind);
  if (algorithm !== "RSA") {
    const what = algorithm === "unknown" ? "is not a readable RSA key" : `is an ${algorithm} key`;
    throw new KeyError(`the PEM key ${what}: LINE assertion keys must be RSA 2048-bit`, { code: algorithm === "unknown" ? "ERR_KEY_PARSE" : "ERR_KEY_TYPE" });
  }
  let exported: Record<string, unknown>;
  try {
    const key = await crypto.subtle.importKey(kind === "private" ? "pkcs8" : "spki", der as Uint8Array<ArrayBuffer>, RSA_IMPORT, true, [kind === "private" ? "sign" : "verify"]);
    exported = (await crypto.subtle.exportKey("jwk", key)) as Record<string, unknown>;
  } catch {
    throw new KeyError(`the PEM block "${label}" could not be read as an RSA key (malformed DER)`, { code: "ERR_KEY_PARSE" });
  }
  const jwk: Jwk = { kty: "RSA", n: exported.n, e: exported.e };
  if (kind === "private") Object.assign(jwk, { d: exported.d, p: exported.p, q: exported.q, dp: exported.dp, dq: exported.dq, qi: exported.qi });
  return { format: "pem", jwk, isPrivate: kind === "private" };
}

/** The `kty` of a JWK, for messages (only short identifier-like values are echoed). */
export function describeKty(jwk: Jwk): string {
  return safeName(jwk["kty"]);
}
