/**
 * base64url (RFC 4648 §5) without padding, as JOSE uses it. Strict on decode: padding, `+`, `/`,
 * whitespace or any other foreign character is refused, because LINE refuses them too.
 * Web standards only (atob/btoa), so the core runs on any runtime.
 */

const ALPHABET = /^[A-Za-z0-9_-]*$/;

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
  let binary = "";
  // Chunked so large inputs do not overflow the argument stack.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000) as unknown as number[]);
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
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
  if (!isBase64url(text)) throw new TypeError("not unpadded base64url");
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
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
