/**
 * The web-standard webhook handler: `(Request) => Promise<Response>`. Runs anywhere with
 * `fetch` types and WebCrypto (Node, Deno, Bun, Workers, Hono, `kagiya serve`).
 */
import { verifyWebhookSignature } from "../core/webhook/signature.ts";
import { WebhookConfigError } from "./errors.ts";
import { createIntake, splitAdapterOptions, type Outcome, type Verifier, type WebhookOptions } from "./intake.ts";
import { channelIdFromPath } from "./parse.ts";
import { LINE_PLATFORM, LINE_WORKS_PLATFORM, type WebhookPlatform } from "./platform.ts";

/** Options of {@link createWebhookHandler}. */
export interface WebhookHandlerOptions extends WebhookOptions {
  /** Multi-channel mode: the channel a request is for (default: the last path segment of its URL). */
  channelIdFrom?: (request: Request) => string | null | undefined;
}

/** The handler, with a way to wait for queued events (shutdown, tests). */
export interface WebhookHandler {
  (request: Request): Promise<Response>;
  /**
   * The same intake for LINE WORKS bot callbacks (`X-WORKS-Signature`, the secret from
   * `botSecretFor`); the bot ID is the last segment of the URL's path (`/webhook/works/{botId}`).
   */
  works(request: Request): Promise<Response>;
  /** Resolves when every queued event has been handled. */
  drain(): Promise<void>;
  /** Stops the inbox's polling and lease extension (after drain, on shutdown); a no-op without an inbox. */
  close(): Promise<void>;
  /** Deliveries waiting or being handled. */
  readonly pending: number;
}

const TOO_LARGE = Symbol("too large");
const JSON_HEADERS = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };

/**
 * WebCrypto verification, the web-standard default.
 *
 * @example
 * ```ts
 * await webCryptoVerifier(secret, bodyBytes, signatureHeader); // true or false
 * ```
 */
export const webCryptoVerifier: Verifier = (secret, body, signature) => verifyWebhookSignature(secret, body, signature);

/** Reads at most `max` bytes of a body, counting as it goes (Content-Length can lie). */
async function readLimited(request: Request, max: number): Promise<Uint8Array | typeof TOO_LARGE> {
  const stream = request.body;
  if (stream === null) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => {});
      return TOO_LARGE;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

function respond(outcome: Outcome, extra?: Record<string, string>): Response {
  if (outcome.body === "") return new Response(null, { status: outcome.status });
  return new Response(outcome.body, { status: outcome.status, headers: extra ? { ...JSON_HEADERS, ...extra } : JSON_HEADERS });
}

/**
 * Creates the webhook handler. Checks `x-line-signature` over the raw body (before parsing),
 * answers at once, and runs the bot's handlers after the response; duplicate events (same
 * webhookEventId) run once through the `dedup` store.
 *
 * Answers: 200 accepted (also for an empty events list); 401 missing or bad signature, or an
 * unregistered channel (same body, so channels cannot be probed); 413 body over `maxBodyBytes`;
 * 400 signed but not JSON / no events array; 405 not POST; 503 secret lookup failed. Its `works`
 * route answers LINE WORKS bot callbacks by the same rules (`X-WORKS-Signature`, `botSecretFor`).
 *
 * @example
 * ```ts
 * import { createBot, createWebhookHandler } from "kagiya/webhook";
 * const bot = createBot({ tokens });
 * bot.on("message", async (event, ctx) => {
 *   if (event.message.type === "text") await ctx.reply([{ type: "text", text: "こんにちは!" }]);
 * });
 * const handler = createWebhookHandler({ secretFor: (id) => secrets.get(id), bot });
 * Deno.serve(handler); // or any (Request) => Response host
 * ```
 */
export function createWebhookHandler(options: WebhookHandlerOptions): WebhookHandler {
  if ((options as { bodyTimeoutMs?: unknown } | null)?.bodyTimeoutMs !== undefined) {
    throw new WebhookConfigError("bodyTimeoutMs is for the node:http and Express adapters; the host that builds the Request reads the body (give it a deadline there).");
  }
  const { own, core } = splitAdapterOptions(options, ["channelIdFrom"]);
  const intake = createIntake(core);
  const channelIdFrom = own.channelIdFrom;
  const max = intake.maxBodyBytes;

  const handle = async (request: Request, channelId: string | null, platform: WebhookPlatform): Promise<Response> => {
    if (request.method !== "POST") return respond(intake.reject(channelId, "ERR_WEBHOOK_METHOD", platform), { allow: "POST" });
    const signature = request.headers.get(platform.signatureHeader);
    if (signature === null || signature.length === 0 || channelId === null) {
      await request.body?.cancel().catch(() => {});
      return respond(intake.reject(channelId, "ERR_WEBHOOK_SIGNATURE", platform));
    }
    const declared = request.headers.get("content-length");
    if (declared !== null && Number(declared) > max) {
      await request.body?.cancel().catch(() => {});
      return respond(intake.reject(channelId, "ERR_WEBHOOK_BODY_TOO_LARGE", platform));
    }
    let body: Uint8Array | typeof TOO_LARGE;
    try {
      body = await readLimited(request, max);
    } catch {
      // The client went away or sent a broken stream; nothing was signed.
      return respond(intake.reject(channelId, "ERR_WEBHOOK_SIGNATURE", platform));
    }
    if (body === TOO_LARGE) return respond(intake.reject(channelId, "ERR_WEBHOOK_BODY_TOO_LARGE", platform));
    return respond(await intake.process(channelId, signature, body, webCryptoVerifier, platform));
  };

  const handler = async (request: Request): Promise<Response> => {
    let channelId: string | null = intake.singleChannelId;
    if (channelId === null) {
      try {
        channelId = channelIdFrom !== undefined ? (channelIdFrom(request) ?? null) : channelIdFromPath(new URL(request.url).pathname);
      } catch {
        channelId = null;
      }
    }
    return handle(request, channelId, LINE_PLATFORM);
  };
  const works = (request: Request): Promise<Response> => {
    let botId: string | null;
    try {
      botId = channelIdFromPath(new URL(request.url).pathname);
    } catch {
      botId = null;
    }
    return handle(request, botId, LINE_WORKS_PLATFORM);
  };
  return Object.defineProperties(handler, {
    works: { value: works },
    drain: { value: () => intake.drain() },
    close: { value: () => intake.close() },
    pending: { get: () => intake.pending },
  }) as WebhookHandler;
}
