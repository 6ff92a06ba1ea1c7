/**
 * Reading a signed body: strict UTF-8, JSON, the webhook envelope (`destination`, `events`), and
 * the channel ID in a URL path. Pure and web-standard; the Node adapters bring a faster decoder.
 */
import type { WebhookRejectionCode } from "./errors.ts";

/** Strict UTF-8 decoding: the text, or null for invalid UTF-8. */
export type Utf8Decoder = (bytes: Uint8Array) => string | null;

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * The web-standard decoder (TextDecoder, fatal).
 *
 * @example
 * ```ts
 * webUtf8Decoder(new Uint8Array([0xc3, 0x28])); // null: not UTF-8
 * ```
 */
export const webUtf8Decoder: Utf8Decoder = (bytes) => {
  try {
    return decoder.decode(bytes);
  } catch {
    return null;
  }
};

/** A parsed delivery: its events are not looked at yet (that happens after the response). */
export interface ParsedDelivery {
  destination: string;
  events: unknown[];
}

/**
 * Parses a signed body into its envelope, or names the refusal: ERR_WEBHOOK_INVALID_JSON for
 * bytes that are not UTF-8 JSON, ERR_WEBHOOK_INVALID_BODY for JSON without an events array.
 *
 * @example
 * ```ts
 * parseDelivery(bytes, webUtf8Decoder); // { destination: "U…", events: [...] } or "ERR_WEBHOOK_INVALID_JSON"
 * ```
 */
export function parseDelivery(body: Uint8Array, decode: Utf8Decoder): ParsedDelivery | WebhookRejectionCode {
  const parsed = parseSignedObject(body, decode);
  if (typeof parsed === "string") return parsed;
  const { events, destination } = parsed as { events?: unknown; destination?: unknown };
  if (!Array.isArray(events)) return "ERR_WEBHOOK_INVALID_BODY";
  return { destination: typeof destination === "string" ? destination : "", events };
}

/**
 * A signed body as a JSON object, or the refusal: ERR_WEBHOOK_INVALID_JSON for bytes that are not
 * UTF-8 JSON, ERR_WEBHOOK_INVALID_BODY for JSON that is not an object. Shared by both platforms.
 *
 * @example
 * ```ts
 * parseSignedObject(bytes, webUtf8Decoder); // { type: "message", … } or "ERR_WEBHOOK_INVALID_JSON"
 * ```
 */
export function parseSignedObject(body: Uint8Array, decode: Utf8Decoder): Record<string, unknown> | WebhookRejectionCode {
  let parsed: unknown;
  try {
    const text = decode(body);
    if (text === null) return "ERR_WEBHOOK_INVALID_JSON";
    parsed = JSON.parse(text);
  } catch {
    return "ERR_WEBHOOK_INVALID_JSON";
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return "ERR_WEBHOOK_INVALID_BODY";
  return parsed as Record<string, unknown>;
}

/**
 * What is wrong with an event's envelope, or null when it is an object with a string `type`
 * (anything else a handler could be given). Type-specific members are the bot's to check
 * (./events.ts): unknown types pass through here.
 *
 * @example
 * ```ts
 * envelopeProblem({ type: "message" }); // null
 * envelopeProblem(42); // "is not an object"
 * ```
 */
export function envelopeProblem(raw: unknown): string | null {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return "is not an object";
  const type = (raw as { type?: unknown }).type;
  if (typeof type !== "string") return "has no string type";
  return null;
}

/**
 * The channel ID in a URL path: its last non-empty segment, when it looks like an ID (letters,
 * digits, `._-`, at most 64 characters). Null otherwise.
 *
 * @example
 * ```ts
 * channelIdFromPath("/webhook/1234567890"); // "1234567890"
 * ```
 */
export function channelIdFromPath(pathname: string): string | null {
  let end = pathname.length;
  const q = pathname.indexOf("?");
  if (q !== -1) end = q;
  while (end > 0 && pathname.charCodeAt(end - 1) === 47) end--;
  const start = pathname.lastIndexOf("/", end - 1) + 1;
  if (end - start < 1 || end - start > 64) return null;
  // A loop, not a regular expression: this runs on every delivery.
  for (let i = start; i < end; i++) {
    const c = pathname.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 46 || c === 95 || c === 45;
    if (!ok) return null;
  }
  return pathname.slice(start, end);
}
