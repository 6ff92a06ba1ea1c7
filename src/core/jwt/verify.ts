import { decodeBase64url, isBase64url } from "../base64url.ts";
import { JwsFormatError } from "../errors.ts";
import type { AssertionKey, VerifyKey } from "../keys/import.ts";

/** The outcome of {@link verifyJws}. */
export interface JwsVerification {
  /** True only for an RS256 signature that verifies with the key. */
  readonly valid: boolean;
  /** The protected header (frozen: shared between calls with the same header). */
  readonly header: Readonly<Record<string, unknown>>;
  /** The payload parsed as JSON when it is JSON, else its text (decoded on first read). */
  readonly payload: unknown;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

function segmentText(segment: string, name: string): string {
  try {
    return decoder.decode(decodeBase64url(segment));
  } catch {
    throw new JwsFormatError(`the JWS ${name} is not unpadded base64url of UTF-8 text`);
  }
}

// Assertions from one client repeat the same header; remembering the last one saves a decode
// and a JSON.parse per verification.
let lastHeaderSegment = "";
let lastHeader: Readonly<Record<string, unknown>> = Object.freeze({});

function headerOf(segment: string): Readonly<Record<string, unknown>> {
  if (segment === lastHeaderSegment) return lastHeader;
  let header: unknown;
  try {
    header = JSON.parse(segmentText(segment, "header"));
  } catch (error) {
    if (error instanceof JwsFormatError) throw error;
    throw new JwsFormatError("the JWS header is not JSON");
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) throw new JwsFormatError("the JWS header is not a JSON object");
  lastHeader = Object.freeze(header as Record<string, unknown>);
  lastHeaderSegment = segment;
  return lastHeader;
}

const UNREAD = Symbol("unread");

/** A verification result whose payload is decoded only when read (most callers need `valid` only). */
class Verification implements JwsVerification {
  readonly valid: boolean;
  readonly header: Readonly<Record<string, unknown>>;
  #segment: string;
  #payload: unknown = UNREAD;
  constructor(valid: boolean, header: Readonly<Record<string, unknown>>, segment: string) {
    this.valid = valid;
    this.header = header;
    this.#segment = segment;
  }
  get payload(): unknown {
    if (this.#payload === UNREAD) {
      const text = segmentText(this.#segment, "payload");
      try {
        this.#payload = JSON.parse(text);
      } catch {
        this.#payload = text;
      }
    }
    return this.#payload;
  }
  toJSON(): { valid: boolean; header: Readonly<Record<string, unknown>>; payload: unknown } {
    return { valid: this.valid, header: this.header, payload: this.payload };
  }
}

function result(valid: boolean, header: Readonly<Record<string, unknown>>, payloadSegment: string): JwsVerification {
  return new Verification(valid, header, payloadSegment);
}

/**
 * Verifies a compact JWS with RS256 (the only algorithm accepted: a header naming another
 * one, `none` included, is simply not valid). Throws {@link JwsFormatError} when the text is
 * not a compact JWS at all. Checks no claims: use `inspectJws` for that.
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
  const header = headerOf(token.slice(0, first));
  const payloadSegment = token.slice(first + 1, last);
  if (!isBase64url(payloadSegment)) throw new JwsFormatError("the JWS payload is not unpadded base64url");
  const signature = token.slice(last + 1);
  if (header["alg"] !== "RS256" || signature.length === 0 || !isBase64url(signature)) return result(false, header, payloadSegment);
  return result(await key.verify(token.slice(0, last), signature), header, payloadSegment);
}
