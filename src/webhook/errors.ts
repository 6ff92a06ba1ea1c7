/**
 * Errors of the webhook area. Each has a stable `code`; none carries a signature, secret or
 * token. Rejections of incoming requests are not thrown: they become JSON responses whose
 * `error` field is one of {@link WEBHOOK_REJECTION_CODES}.
 */
import { KagiyaError } from "../core/errors.ts";

/**
 * The handler or bot was configured wrongly (unknown option, missing secret, bad number).
 *
 * @example
 * ```ts
 * try { createWebhookHandler({ channelSecret: "" }); }
 * catch (e) { if (e instanceof WebhookConfigError) console.error(e.code, e.message); }
 * ```
 */
export class WebhookConfigError extends KagiyaError {
  constructor(message: string) {
    super("ERR_WEBHOOK_CONFIG", message);
  }
}

/**
 * The request body was already consumed by a body parser (e.g. `express.json()` ran before the
 * webhook route), so the raw bytes the signature covers are gone.
 *
 * @example
 * ```ts
 * app.use((err, req, res, next) => err.code === "ERR_WEBHOOK_BODY_CONSUMED" ? res.status(500).json({ error: err.code }) : next(err));
 * ```
 */
export class WebhookBodyConsumedError extends KagiyaError {
  constructor() {
    super(
      "ERR_WEBHOOK_BODY_CONSUMED",
      "The webhook request body was already parsed by another middleware (for example express.json()); mount the kagiya webhook handler before any body parser, or use express.raw({ type: \"*/*\" }) on its route.",
    );
  }
}

/**
 * A reply or push failed at LINE (after the one retry on 401).
 *
 * @example
 * ```ts
 * bot.on("message", async (e, ctx) => {
 *   try { await ctx.reply({ type: "text", text: "hi" }); }
 *   catch (err) { if (err instanceof BotSendError) ctx.logger.error({ status: err.status }, err.message); }
 * });
 * ```
 */
export class BotSendError extends KagiyaError {
  /** HTTP status from LINE, 0 when the request did not complete. */
  readonly status: number;
  constructor(message: string, status: number, options?: { cause?: unknown }) {
    super("ERR_BOT_SEND", message, options);
    this.status = status;
  }
}

/**
 * Codes in the `error` field of webhook rejection bodies, with their HTTP status.
 *
 * @example
 * ```ts
 * WEBHOOK_REJECTION_CODES.ERR_WEBHOOK_SIGNATURE; // 401
 * ```
 */
export const WEBHOOK_REJECTION_CODES = {
  ERR_WEBHOOK_SIGNATURE: 401,
  ERR_WEBHOOK_BODY_TOO_LARGE: 413,
  ERR_WEBHOOK_BODY_TIMEOUT: 408,
  ERR_WEBHOOK_INVALID_JSON: 400,
  ERR_WEBHOOK_INVALID_BODY: 400,
  ERR_WEBHOOK_METHOD: 405,
  ERR_WEBHOOK_UNAVAILABLE: 503,
  ERR_WEBHOOK_BUSY: 503,
} as const;

/** One of the rejection codes. */
export type WebhookRejectionCode = keyof typeof WEBHOOK_REJECTION_CODES;
