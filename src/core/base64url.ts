/**
 * base64url (RFC 4648 §5) without padding, as JOSE uses it. Strict on decode: padding, `+`, `/`,
 * whitespace or any other foreign character is refused, because LINE refuses them too.
 * Web standards only (atob/btoa), so the core runs on any runtime.
 */

const ALPHABET = /^[A-Za-z0-9_-]*$/;
const CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const LOOKUP = new Uint8Array(128).fill(255);
for (let i = 0; i < CHARS.length; i++) LOOKUP[CHARS.charCodeAt(i)] = i;

/**
 * True when `text` is unpadded base64url that decodes to whole bytes.
 *
 * @example
 * ```ts
 * isBase64url("AQAB"); // true
 * isBase64url("AQAB=="); // false: padding
 * ```
 */
export function isBase64url(text: string): boolean {
  return ALPHABET.test(text) && text.length % 4 !== 1;
}

/**
 * Encodes bytes, or the UTF-8 of a string, as unpadded base64url.
 *
 * @example
 * ```ts
 * encodeBase64url('{"alg":"RS256"}'); // "eyJhbGciOiJSUzI1NiJ9"
 * ```
 */
export function encodeBase64url(input: Uint8Array | string): string {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  let out = "";
  let i = 0;
  for (; i + 3 <= bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += CHARS[n >> 18]! + CHARS[(n >> 12) & 63]! + CHARS[(n >> 6) & 63]! + CHARS[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += CHARS[n >> 18]! + CHARS[(n >> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += CHARS[n >> 18]! + CHARS[(n >> 12) & 63]! + CHARS[(n >> 6) & 63]!;
  }
  return out;
}

/**
 * Decodes unpadded base64url to bytes; throws `TypeError` on anything that is not strictly that.
 *
 * @example
 * ```ts
 * decodeBase64url("AQAB"); // Uint8Array [1, 0, 1]
 * ```
 */
export function decodeBase64url(text: string): Uint8Array {
  const len = text.length;
  if (len % 4 === 1) throw new TypeError("not unpadded base64url");
  const out = new Uint8Array((len * 3) >> 2);
  let o = 0;
  let i = 0;
  // Table lookups instead of atob: verifying a JWS decodes 342 signature characters per call.
  for (; i + 4 <= len; i += 4) {
    const a = LOOKUP[text.charCodeAt(i)] ?? 255, b = LOOKUP[text.charCodeAt(i + 1)] ?? 255;
    const c = LOOKUP[text.charCodeAt(i + 2)] ?? 255, d = LOOKUP[text.charCodeAt(i + 3)] ?? 255;
    if ((a | b | c | d) > 63) throw new TypeError("not unpadded base64url");
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = n >> 16;
    out[o++] = (n >> 8) & 255;
    out[o++] = n & 255;
  }
  if (i < len) {
    const a = LOOKUP[text.charCodeAt(i)] ?? 255, b = LOOKUP[text.charCodeAt(i + 1)] ?? 255;
    const c = i + 2 < len ? (LOOKUP[text.charCodeAt(i + 2)] ?? 255) : 0;
    if ((a | b | c) > 63) throw new TypeError("not unpadded base64url");
    const n = (a << 18) | (b << 12) | (c << 6);
    out[o++] = n >> 16;
    if (i + 2 < len) out[o++] = (n >> 8) & 255;
  }
  return out;
}

/**
 * Decodes lenient base64 or base64url (padding and either alphabet accepted); for diagnosing
 * what a sloppy encoder produced. Throws `TypeError` when even that fails.
 *
 * @example
 * ```ts
 * decodeBase64Lenient("AQAB=="); // Uint8Array [1, 0, 1]
 * ```
 */
export function decodeBase64Lenient(text: string): Uint8Array {
  const normal = text.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  if (!/^[A-Za-z0-9+/]*$/.test(normal) || normal.length % 4 === 1) throw new TypeError("not base64");
  const binary = atob(normal + "=".repeat((4 - (normal.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Decodes base64url to a UTF-8 string (fatal on invalid UTF-8).
 *
 * @example
 * ```ts
 * decodeBase64urlText("eyJhbGciOiJSUzI1NiJ9"); // '{"alg":"RS256"}'
 * ```
 */
export function decodeBase64urlText(text: string): string {
  return new TextDecoder("utf-8", { fatal: true }).decode(decodeBase64url(text));
}
