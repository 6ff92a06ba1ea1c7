/**
 * The webhook intake's routes in kagiya's server: POST /webhook/{channelId} (LINE) and
 * POST /webhook/works/{botId} (LINE WORKS), the handler made by the caller's factory with the
 * store, metrics and audit of the server wired in.
 */
import { CHANNEL_ID_PATTERN } from "./apikeys.ts";
import { AuditThrottle } from "./audit-throttle.ts";
import type { ServerContext } from "./context.ts";
import { HttpError } from "./errors.ts";
import type { Router } from "./router.ts";
import type { NodeWebhookHandler, WebhookWiring } from "./server.ts";

/** The LINE webhook URLs' prefix: /webhook/{channelId}. */
const WEBHOOK_PREFIX = "/webhook/";

/** A LINE WORKS bot ID in a callback URL (as `kagiya works add --bot-id` takes them). */
const BOT_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Webhook rejections are audited at most once per channel and code per window… */
const WEBHOOK_REJECT_AUDIT_MS = 10_000;
/** …and at most this many rows per window in all, however many channel IDs a flood makes up. */
const WEBHOOK_REJECT_AUDIT_MAX = 20;

/** Whether a path is a well-formed LINE webhook URL, /webhook/{channelId}. */
export function isLineWebhookPath(path: string): boolean {
  // CHANNEL_ID_PATTERN (1 to 20 digits) as a loop: no slice, no regular expression on every delivery.
  const n = path.length - WEBHOOK_PREFIX.length;
  if (n < 1 || n > 20 || !path.startsWith(WEBHOOK_PREFIX)) return false;
  for (let i = WEBHOOK_PREFIX.length; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * Makes the webhook handler with the server's wiring and adds its routes to the router; returns the
 * handler (the server's dispatch also hands it LINE's deliveries directly, before the router).
 */
export function mountWebhooks(router: Router, ctx: ServerContext, factory: (wiring: WebhookWiring) => NodeWebhookHandler): NodeWebhookHandler {
  const { store, metrics, log, now, audit } = ctx;
  // Bound once: a labelled child costs no label lookup per request.
  const accepted = metrics.webhooks.labels("accepted");
  const rejectAudit = new AuditThrottle(WEBHOOK_REJECT_AUDIT_MS, WEBHOOK_REJECT_AUDIT_MAX);
  const handler = factory({
    dedup: { markOnce: (key, ttlMs) => store.markOnce(key, ttlMs), markMany: (keys, ttlMs) => store.markMany(keys, ttlMs) },
    inbox: store,
    logger: log,
    bodyTimeoutMs: ctx.bodyTimeoutMs,
    onAccept: () => accepted.inc(),
    onReject: (info) => {
      metrics.webhooks.inc({ outcome: webhookOutcome(info.code) });
      // A LINE WORKS bot ID is not a channel: named in the detail, within the same bounds.
      const bot = info.platform === "line-works" && info.channelId !== null && BOT_ID_PATTERN.test(info.channelId) ? info.channelId : null;
      const channelId = bot === null && info.channelId !== null && CHANNEL_ID_PATTERN.test(info.channelId) ? info.channelId : null;
      const detail = rejectAudit.admit(`${bot === null ? channelId : `works:${bot}`}|${info.code}`, now());
      if (detail !== null) void audit({ action: "webhook.reject", actor: "webhook", channelId, keyId: null, detail: `${bot === null ? "" : `LINE WORKS bot ${bot}: `}${info.code} (${info.status})${detail}` });
    },
  });
  router.add("POST", "/webhook/:channelId", ({ req, res, params }) => {
    if (!CHANNEL_ID_PATTERN.test(params["channelId"]!)) {
      metrics.webhooks.inc({ outcome: "bad_request" });
      throw new HttpError(404, "ERR_NOT_FOUND", "webhook URLs are /webhook/{channelId} with the numeric channel ID");
    }
    return handler(req, res) as void | Promise<void>;
  });
  const works = handler.works;
  if (works !== undefined) {
    router.add("POST", "/webhook/works/:botId", ({ req, res, params }) => {
      if (!BOT_ID_PATTERN.test(params["botId"]!)) {
        metrics.webhooks.inc({ outcome: "bad_request" });
        throw new HttpError(404, "ERR_NOT_FOUND", "LINE WORKS callback URLs are /webhook/works/{botId} with the bot's ID");
      }
      return works(req, res) as void | Promise<void>;
    });
  }
  return handler;
}

function webhookOutcome(code: string): string {
  switch (code) {
    case "ERR_WEBHOOK_SIGNATURE": return "bad_signature";
    case "ERR_WEBHOOK_BODY_TOO_LARGE": return "too_large";
    case "ERR_WEBHOOK_BODY_TIMEOUT": return "timeout";
    case "ERR_WEBHOOK_INVALID_JSON":
    case "ERR_WEBHOOK_INVALID_BODY": return "bad_request";
    case "ERR_WEBHOOK_METHOD": return "bad_method";
    case "ERR_WEBHOOK_BUSY": return "busy";
    default: return "error";
  }
}
