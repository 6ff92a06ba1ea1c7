/**
 * The platforms the intake takes deliveries from, as data: which header carries the signature,
 * how a signed body splits into events, and how an event is keyed for de-duplication. Everything
 * else (size limit, signature check in constant time, the 200 before handlers, the inbox or the
 * in-memory queue, handler dispatch) is one pipeline for both.
 *
 * - LINE: `x-line-signature`; a body `{destination, events: [...]}`; an event's key is its
 *   `webhookEventId`.
 * - LINE WORKS: `x-works-signature`; a body is one event object; LINE WORKS sends no event ID, so
 *   the key is a SHA-256 digest of the bot ID and the raw body (a redelivery repeats the bytes).
 */
import type { WebhookRejectionCode } from "./errors.ts";
import { parseDelivery, parseSignedObject, type Utf8Decoder } from "./parse.ts";

/** A platform's name, as handlers see it in {@link DeliveryInfo.platform}. */
export type WebhookPlatformName = "line" | "line-works";

/** A signed body split into its events, with de-duplication keys when the platform derives them. */
export interface SplitDelivery {
  destination: string;
  events: unknown[];
  /** Whether the keys need the body's digest (LINE WORKS); LINE keys events by their own IDs. */
  keyedByDigest: boolean;
}

/** How the intake reads one platform's deliveries. */
export interface WebhookPlatform {
  readonly name: WebhookPlatformName;
  /** The signature header, lower-case. */
  readonly signatureHeader: string;
  /** Splits a signed body into events, or names the refusal (400 codes). */
  split(id: string, body: Uint8Array, decode: Utf8Decoder): SplitDelivery | WebhookRejectionCode;
  /** The inbox / once-mark key of an event: by the event's ID, or by the delivery's digest. */
  key(id: string, event: unknown, digest: string | null): string | null;
}

/**
 * LINE's Messaging API webhooks.
 *
 * @example
 * ```ts
 * LINE_PLATFORM.split("1234567890", bytes, webUtf8Decoder); // { destination: "U…", events: [...], keyedByDigest: false }
 * ```
 */
export const LINE_PLATFORM: WebhookPlatform = Object.freeze({
  name: "line",
  signatureHeader: "x-line-signature",
  split(_id: string, body: Uint8Array, decode: Utf8Decoder): SplitDelivery | WebhookRejectionCode {
    const parsed = parseDelivery(body, decode);
    return typeof parsed === "string" ? parsed : { destination: parsed.destination, events: parsed.events, keyedByDigest: false };
  },
  key(channelId: string, event: unknown): string | null {
    const id = (event as { webhookEventId?: unknown }).webhookEventId;
    return typeof id === "string" && id.length > 0 ? `webhook:${channelId}:${id}` : null;
  },
});

/**
 * LINE WORKS bot callbacks: one event per body, keyed by a digest of the bot ID and the body.
 *
 * @example
 * ```ts
 * LINE_WORKS_PLATFORM.split("2000001", bytes, webUtf8Decoder); // { destination: "2000001", events: [{ type: "message", … }], keyedByDigest: true }
 * ```
 */
export const LINE_WORKS_PLATFORM: WebhookPlatform = Object.freeze({
  name: "line-works",
  signatureHeader: "x-works-signature",
  split(botId: string, body: Uint8Array, decode: Utf8Decoder): SplitDelivery | WebhookRejectionCode {
    const parsed = parseSignedObject(body, decode);
    return typeof parsed === "string" ? parsed : { destination: botId, events: [parsed], keyedByDigest: true };
  },
  key(botId: string, _event: unknown, digest: string | null): string | null {
    return digest === null ? null : `works:${botId}:${digest}`;
  },
});

/**
 * SHA-256 (hex) of a LINE WORKS delivery's key material: the bot ID, a NUL, the raw body.
 * Synchronous where the runtime can (node:crypto), else a promise (WebCrypto).
 */
export type BodyDigest = (botId: string, body: Uint8Array) => string | Promise<string>;

const encoder = new TextEncoder();

/** The bytes a LINE WORKS delivery's key is the digest of: the bot ID, a NUL, the raw body. */
function digestInput(botId: string, body: Uint8Array): Uint8Array {
  const id = encoder.encode(botId);
  const out = new Uint8Array(id.length + 1 + body.length);
  out.set(id, 0);
  out.set(body, id.length + 1);
  return out;
}

/**
 * The web-standard digest (WebCrypto SHA-256, hex).
 *
 * @example
 * ```ts
 * await webDigest("2000001", bytes); // "9f86d0…"
 * ```
 */
export const webDigest: BodyDigest = async (botId, body) => {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", digestInput(botId, body) as Uint8Array<ArrayBuffer>));
  let hex = "";
  for (const b of d) hex += b.toString(16).padStart(2, "0");
  return hex;
};
