/**
 * LINE webhook signature (`x-line-signature`): Base64 (standard, padded) of HMAC-SHA256 over the
 * raw request body bytes, keyed with the channel secret. Web standards only (WebCrypto), so this
 * module runs unchanged in Node, Deno, Bun, Workers and browsers.
 */

const encoder = new TextEncoder();
/** Imported HMAC keys by secret; importKey costs more than the HMAC itself for small bodies. */
const keyCache = new Map<string, Promise<CryptoKey>>();
const KEY_CACHE_MAX = 1024;

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keyCache.get(secret);
  if (key === undefined) {
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    keyCache.set(secret, key);
    // A failed import must not stay cached.
    key.catch(() => keyCache.delete(secret));
  }
  return key;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Standard padded Base64 of `bytes`, without Node's Buffer. */
export function base64(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]! + "==";
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + "=";
  }
  return out;
}

/**
 * Compares two strings in time that depends only on their lengths. The length guard comes
 * first: a signature has a public fixed length (44 characters), so that leaks nothing.
 *
 * @example
 * ```ts
 * timingSafeEqualString(expected, header); // false for different lengths, never throws
 * ```
 */
export function timingSafeEqualString(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The raw body as bytes; strings are taken as UTF-8 (what LINE signs). */
function toBytes(body: Uint8Array | string): Uint8Array<ArrayBuffer> {
  if (typeof body === "string") return encoder.encode(body);
  return body as Uint8Array<ArrayBuffer>;
}

/**
 * Computes the `x-line-signature` value for `body` under `channelSecret`.
 *
 * @example
 * ```ts
 * const sig = await signWebhookBody("8c570fa6dd201bb328f1c1eac23a96d8",
 *   '{"destination":"U8e742f61d673b39c7fff3cecb7536ef0","events":[]}');
 * // "GhRKmvmHys4Pi8DxkF4+EayaH0OqtJtaZxgTD9fMDLs="
 * ```
 */
export async function signWebhookBody(channelSecret: string, body: Uint8Array | string): Promise<string> {
  const key = await hmacKey(channelSecret);
  const mac = await crypto.subtle.sign("HMAC", key, toBytes(body));
  return base64(new Uint8Array(mac));
}

/**
 * Checks an `x-line-signature` value against the raw body bytes in constant time. Returns false
 * (never throws) for a missing, empty, mis-sized or wrong signature. Pass the body exactly as
 * received: never a re-serialized object.
 *
 * @example
 * ```ts
 * const body = new Uint8Array(await request.arrayBuffer());
 * if (!(await verifyWebhookSignature(secret, body, request.headers.get("x-line-signature")))) {
 *   return new Response("unauthorized", { status: 401 });
 * }
 * ```
 */
export async function verifyWebhookSignature(
  channelSecret: string,
  body: Uint8Array | string,
  signature: string | null | undefined,
): Promise<boolean> {
  if (typeof signature !== "string" || signature.length !== 44 || channelSecret.length === 0) {
    // Still spend an HMAC so that a missing header and a wrong one cost about the same.
    if (channelSecret.length > 0) await signWebhookBody(channelSecret, body);
    return false;
  }
  const expected = await signWebhookBody(channelSecret, body);
  return timingSafeEqualString(expected, signature);
}

/**
 * Length of every valid signature: Base64 of 32 bytes.
 *
 * @example
 * ```ts
 * if (header?.length !== SIGNATURE_LENGTH) return unauthorized();
 * ```
 */
export const SIGNATURE_LENGTH = 44;
