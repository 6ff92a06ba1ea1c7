import { decodeBase64url } from "../base64url.ts";
import { JwsFormatError } from "../errors.ts";
import type { AssertionKey, VerifyKey } from "../keys/import.ts";

/** The outcome of {@link verifyJws}. */
export interface JwsVerification {
  /** True only for an RS256 signature that verifies with the key. */
  valid: boolean;
  header: Record<string, unknown>;
  /** The payload parsed as JSON when it is JSON, else its text. */
  payload: unknown;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function segmentJson(segment: string, name: string): unknown {
  let text: string;
  try {
    text = decoder.decode(decodeBase64url(segment));
  } catch {
    throw new JwsFormatError(`the JWS ${name} is not unpadded base64url of UTF-8 text`);
  }
  try {
    return JSON.parse(text);
  } catch {
    if (name === "header") throw new JwsFormatError("the JWS header is not JSON");
    return text;
  }
}

/**
 * Verifies a compact JWS with RS256 (the only algorithm accepted: a header naming another
 * one, `none` included, is simply not valid). Throws {@link JwsFormatError} when the text is
 * not a compact JWS at all. Checks no claims: use {@link inspectJws} for that.
 *
 * @example
 * ```ts
 * const key = await importVerifyKey(publicJwkText); // once
 * const { valid, payload } = await verifyJws(jwt, key);
 * ```
 */
export async function verifyJws(token: string, key: VerifyKey | AssertionKey): Promise<JwsVerification> {
  const first = token.indexOf(".");
  const last = token.lastIndexOf(".");
  if (first <= 0 || last === first || token.indexOf(".", first + 1) !== last) {
    throw new JwsFormatError("not a compact JWS: expected three dot-separated segments (header.payload.signature)");
  }
  const header = segmentJson(token.slice(0, first), "header");
  if (header === null || typeof header !== "object" || Array.isArray(header)) throw new JwsFormatError("the JWS header is not a JSON object");
  const payload = segmentJson(token.slice(first + 1, last), "payload");
  if ((header as Record<string, unknown>)["alg"] !== "RS256") return { valid: false, header: header as Record<string, unknown>, payload };
  let signature: Uint8Array;
  try {
    signature = decodeBase64url(token.slice(last + 1));
  } catch {
    return { valid: false, header: header as Record<string, unknown>, payload };
  }
  const valid = await key.verify(encoder.encode(token.slice(0, last)), signature);
  return { valid, header: header as Record<string, unknown>, payload };
}
