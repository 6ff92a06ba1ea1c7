/**
 * The answers the intake gives: the 200, and one prebuilt JSON refusal per rejection code (built
 * once, so refusing costs no serialization). {@link Rejecter} also tells the `onReject` hook.
 */
import { WEBHOOK_REJECTION_CODES, type WebhookRejectionCode } from "./errors.ts";
import { describeError } from "./log.ts";
import type { ResolvedWebhookOptions } from "./options.ts";
import type { WebhookPlatformName } from "./platform.ts";

/** A response decided by the intake: status and a JSON body. */
export interface Outcome {
  status: number;
  body: string;
}

const MESSAGES: Record<WebhookRejectionCode, string> = {
  ERR_WEBHOOK_SIGNATURE:
    "x-line-signature is missing or does not match the body under this channel's secret (check the channel secret and that the URL names the right channel).",
  ERR_WEBHOOK_BODY_TOO_LARGE: "The request body is larger than the webhook limit.",
  ERR_WEBHOOK_BODY_TIMEOUT: "The request body did not arrive in time.",
  ERR_WEBHOOK_INVALID_JSON: "The signed body is not valid UTF-8 JSON.",
  ERR_WEBHOOK_INVALID_BODY: "The signed body is not a webhook object with an events array.",
  ERR_WEBHOOK_METHOD: "Webhooks are delivered with POST.",
  ERR_WEBHOOK_UNAVAILABLE: "The webhook receiver cannot reach its store right now (channel lookup or inbox write); LINE may redeliver later.",
  ERR_WEBHOOK_BUSY: "The webhook receiver has too many deliveries waiting to be handled; LINE may redeliver later.",
};

const REJECTIONS = Object.fromEntries(
  Object.entries(WEBHOOK_REJECTION_CODES).map(([code, status]) => [
    code,
    Object.freeze({ status, body: JSON.stringify({ error: code, message: MESSAGES[code as WebhookRejectionCode] }) }),
  ]),
) as Record<WebhookRejectionCode, Outcome>;

// LINE WORKS' refusals say its header and the bot, not LINE's.
const WORKS_REJECTIONS: Record<WebhookRejectionCode, Outcome> = {
  ...REJECTIONS,
  ERR_WEBHOOK_SIGNATURE: Object.freeze({
    status: 401,
    body: JSON.stringify({
      error: "ERR_WEBHOOK_SIGNATURE",
      message: "X-WORKS-Signature is missing or does not match the body under this bot's Bot Secret (check the Bot Secret and that the URL names the right bot).",
    }),
  }),
  ERR_WEBHOOK_INVALID_BODY: Object.freeze({ status: 400, body: JSON.stringify({ error: "ERR_WEBHOOK_INVALID_BODY", message: "The signed body is not a LINE WORKS callback object." }) }),
};

/** The 200 answer: no body (LINE reads only the status), so it costs what a bare 200 costs. */
export const OK: Outcome = Object.freeze({ status: 200, body: "" });

/** Refuses a request: the prebuilt outcome for `code`, after telling `onReject` (whose failure is only logged). */
export type Rejecter = (channelId: string | null, code: WebhookRejectionCode, platform?: WebhookPlatformName) => Outcome;

/**
 * Makes the rejecter of one intake.
 *
 * @example
 * ```ts
 * const reject = createRejecter(resolveWebhookOptions(options));
 * reject(null, "ERR_WEBHOOK_SIGNATURE"); // { status: 401, body: '{"error":"ERR_WEBHOOK_SIGNATURE",…}' }
 * ```
 */
export function createRejecter(options: Pick<ResolvedWebhookOptions, "onReject" | "logger">): Rejecter {
  const { onReject, logger } = options;
  return (channelId, code, platform) => {
    const outcome = platform === "line-works" ? WORKS_REJECTIONS[code] : REJECTIONS[code];
    if (onReject !== undefined) {
      try {
        onReject(platform === "line-works" ? { channelId, status: outcome.status, code, platform } : { channelId, status: outcome.status, code });
      } catch (err) {
        logger.error({ err: describeError(err) }, "webhook onReject hook failed");
      }
    }
    return outcome;
  };
}
