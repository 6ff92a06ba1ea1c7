// Shared helpers for the webhook tests (not a test file itself).
import { mulberry32 } from "../../src/core/prng.ts";
import { signWebhookBody } from "../../src/core/webhook/signature.ts";

/** LINE's documented test vector (LINE-FACTS.md). */
export const DOCS_VECTOR = {
  body: '{"destination":"U8e742f61d673b39c7fff3cecb7536ef0","events":[]}',
  secret: "8c570fa6dd201bb328f1c1eac23a96d8",
  signature: "GhRKmvmHys4Pi8DxkF4+EayaH0OqtJtaZxgTD9fMDLs=",
};

export const DESTINATION = "U8e742f61d673b39c7fff3cecb7536ef0";

let counter = 0;
/** A ULID-shaped unique ID (tests need uniqueness, not the exact ULID alphabet). */
export function eventId(): string {
  counter++;
  return ("01TEST" + Date.now().toString(36).toUpperCase() + counter.toString(36).toUpperCase() + "0".repeat(26)).slice(0, 26);
}

/** A text message event as LINE sends it. */
export function textEvent(text: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: "message",
    mode: "active",
    timestamp: 1_700_000_000_000,
    source: { type: "user", userId: "U" + "0123456789abcdef".repeat(2) },
    webhookEventId: eventId(),
    deliveryContext: { isRedelivery: false },
    replyToken: "reply-" + counter,
    message: { type: "text", id: String(100000000000000000n + BigInt(counter)), text, quoteToken: "q" + counter },
    ...over,
  };
}

/** A signed webhook Request for the in-process handler. */
export async function signedRequest(
  secret: string,
  body: string | Uint8Array,
  options: { url?: string; headers?: Record<string, string>; signature?: string | null } = {},
): Promise<Request> {
  const signature = options.signature === undefined ? await signWebhookBody(secret, body) : options.signature;
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8", ...options.headers };
  if (signature !== null) headers["x-line-signature"] = signature;
  return new Request(options.url ?? "http://kagiya.test/webhook/1234567890", { method: "POST", headers, body: body as RequestInit["body"] });
}

/** A collecting logger (pino-shaped) that also lets a test grep for secrets. */
export function memoryLogger() {
  const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) => void lines.push({ level, fields, message });
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** Seeded PRNG (mulberry32): the fuzz runs are reproducible. */
export const prng = mulberry32;
