/**
 * LINE WORKS bot callback signature (`X-WORKS-Signature`): Base64 (standard, padded) of
 * HMAC-SHA256 over the raw request body bytes, keyed with the Bot Secret. The algorithm is the
 * one LINE uses for `x-line-signature` with another key, so both share ./signature.ts; these
 * names exist so that a LINE WORKS caller passes a bot secret, not a channel secret, by name.
 * Web standards only.
 */
import { signWebhookBody, verifyWebhookSignature } from "./signature.ts";

/** The header LINE WORKS signs callbacks with (Node lower-cases header names). */
export const WORKS_SIGNATURE_HEADER = "x-works-signature";
/** The header naming the bot a callback is for. */
export const WORKS_BOT_ID_HEADER = "x-works-botid";

/**
 * Computes the `X-WORKS-Signature` value for `body` under `botSecret`.
 *
 * @example
 * ```ts
 * const sig = await signWorksBody(botSecret, '{"type":"message","source":{"userId":"u1"}}');
 * ```
 */
export function signWorksBody(botSecret: string, body: Uint8Array | string): Promise<string> {
  return signWebhookBody(botSecret, body);
}

/**
 * Checks an `X-WORKS-Signature` value against the raw body bytes in constant time. Returns false
 * (never throws) for a missing, empty, mis-sized or wrong signature, and for an empty secret.
 * Pass the body exactly as received, never a re-serialized object.
 *
 * @example
 * ```ts
 * const body = new Uint8Array(await request.arrayBuffer());
 * if (!(await verifyWorksSignature(botSecret, body, request.headers.get("x-works-signature")))) {
 *   return new Response("unauthorized", { status: 401 });
 * }
 * ```
 */
export function verifyWorksSignature(botSecret: string, body: Uint8Array | string, signature: string | null | undefined): Promise<boolean> {
  return verifyWebhookSignature(botSecret, body, signature);
}
