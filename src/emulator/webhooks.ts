// Webhook delivery: completes events the way LINE sends them, signs the exact bytes with the
// channel secret, POSTs them to the target, and mints the reply tokens reply will accept.
import { createHmac } from "node:crypto";
import { readJson, type Handler } from "./context.ts";
import { messageError, send } from "./http.ts";
import { newReplyToken, newUlid, newUserId } from "./ids.ts";

/** A reply token works for one minute after its webhook. */
export const REPLY_TOKEN_TTL_MS = 60 * 1000;
/**
 * Redelivered events: LINE's docs allow replying up to 20 minutes after the original event
 * (LINE-FACTS); the emulator measures from the event's timestamp.
 */
export const REDELIVERY_REPLY_TOKEN_TTL_MS = 20 * 60 * 1000;
/** How long the emulator waits for the target before giving up (LINE itself gives up after 2 s). */
const DELIVERY_TIMEOUT_MS = 10_000;

/** Event types that carry a replyToken (per webhook.yml), when mode is active. */
const REPLYABLE = new Set(["message", "follow", "join", "memberJoined", "postback", "videoPlayComplete", "beacon", "accountLink", "membership"]);

/**
 * `x-line-signature`: Base64 (standard, padded) of HMAC-SHA256 over the raw body bytes.
 *
 * @example
 * ```ts
 * const sig = lineSignature('{"destination":"U...","events":[]}', channelSecret);
 * ```
 */
export function lineSignature(body: string | Uint8Array, channelSecret: string): string {
  return createHmac("sha256", channelSecret).update(body).digest("base64");
}

/** The delivery target, when `url` is an http(s) URL. */
export function targetUrl(url: unknown): URL | undefined {
  try {
    const target = new URL(String(url));
    return target.protocol === "http:" || target.protocol === "https:" ? target : undefined;
  } catch {
    return undefined;
  }
}

/** POSTs a signed delivery; reports what the target answered, or why nothing was delivered. */
export async function postSigned(target: URL, headers: Record<string, string>, body: string): Promise<Record<string, unknown>> {
  try {
    const res = await fetch(target, { method: "POST", headers, body, signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS) });
    return { delivered: true, status: res.status, responseBody: await res.text() };
  } catch (error) {
    const reason = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
    return { delivered: false, status: null, error: `delivery to ${target.origin} failed: ${reason}` };
  }
}

/** POST /__emulator/webhooks */
export const deliverWebhook: Handler = async (ctx, em) => {
  const input = await readJson(ctx, { anyContentType: true });
  if (!input) return;
  const { channelId, url, events, redelivery } = input;
  if (typeof channelId !== "string") return messageError(ctx, 400, "channelId must be a string");
  const channel = em.state.channels.get(channelId);
  if (!channel) return messageError(ctx, 404, `channel ${channelId} not found (create it with POST /__emulator/channels)`);
  const target = targetUrl(url);
  if (!target) return messageError(ctx, 400, "url must be an http(s) URL");
  if (!Array.isArray(events)) return messageError(ctx, 400, "events must be an array (it may be empty)");
  if (redelivery !== undefined && typeof redelivery !== "boolean") return messageError(ctx, 400, "redelivery must be a boolean");
  const isRedelivery = redelivery === true;
  const now = em.state.now();
  const replyTokens: string[] = [];
  const completed: Record<string, unknown>[] = [];
  for (const [i, e] of events.entries()) {
    if (e === null || typeof e !== "object" || Array.isArray(e) || typeof (e as Record<string, unknown>)["type"] !== "string") {
      return messageError(ctx, 400, `events[${i}] must be an object with a string type`);
    }
    // Caller's fields win: a test can replay a fixed webhookEventId to exercise de-duplication.
    const given = e as Record<string, unknown>;
    const event: Record<string, unknown> = {
      type: given["type"],
      mode: "active",
      timestamp: now,
      source: { type: "user", userId: newUserId() },
      webhookEventId: newUlid(now),
      ...given,
      deliveryContext: { isRedelivery },
    };
    if (event["mode"] === "active" && REPLYABLE.has(event["type"] as string) && event["replyToken"] === undefined) {
      event["replyToken"] = newReplyToken();
    }
    if (typeof event["replyToken"] === "string") {
      const ts = typeof event["timestamp"] === "number" ? event["timestamp"] : now;
      const expiresAt = isRedelivery ? ts + REDELIVERY_REPLY_TOKEN_TTL_MS : now + REPLY_TOKEN_TTL_MS;
      em.state.replyTokens.set(event["replyToken"], { channelId, expiresAt, used: false });
      replyTokens.push(event["replyToken"]);
    }
    completed.push(event);
  }
  const body = JSON.stringify({ destination: channel.botUserId, events: completed });
  const signature = lineSignature(body, channel.channelSecret);
  const webhookEventIds = completed.map((e) => e["webhookEventId"]);
  const outcome = await postSigned(target, { "content-type": "application/json; charset=utf-8", "x-line-signature": signature, "user-agent": "LineBotWebhook/2.0" }, body);
  send(ctx, 200, { ...outcome, replyTokens, webhookEventIds, body, signature });
};
