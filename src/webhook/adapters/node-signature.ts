/**
 * Node-only synchronous signature check over a Buffer (node:crypto). Same result as the
 * WebCrypto core in src/core/webhook/signature.ts, without the promise per request; the
 * node:http, Express and Fastify adapters use it because it is measurably faster there
 * (see bench/webhook.bench.ts).
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from "node:crypto";
import { SIGNATURE_LENGTH } from "../../core/webhook/signature.ts";

const keys = new Map<string, KeyObject>();

function keyFor(secret: string): KeyObject {
  let key = keys.get(secret);
  if (key === undefined) {
    if (keys.size >= 1024) keys.clear();
    key = createSecretKey(Buffer.from(secret, "utf8"));
    keys.set(secret, key);
  }
  return key;
}

/**
 * Checks `x-line-signature` over the raw body synchronously, in constant time with a length
 * guard (timingSafeEqual throws on unequal lengths, so lengths are compared first).
 *
 * @example
 * ```ts
 * verifyWebhookSignatureSync(secret, rawBodyBuffer, req.headers["x-line-signature"]);
 * ```
 */
export function verifyWebhookSignatureSync(secret: string, body: Uint8Array, signature: string | null | undefined): boolean {
  if (secret.length === 0) return false;
  const expected = createHmac("sha256", keyFor(secret)).update(body).digest("base64");
  if (typeof signature !== "string" || signature.length !== SIGNATURE_LENGTH) return false;
  // Header values are Latin-1 in Node; any non-ASCII byte simply fails the comparison.
  return timingSafeEqual(Buffer.from(expected, "latin1"), Buffer.from(signature, "latin1"));
}
