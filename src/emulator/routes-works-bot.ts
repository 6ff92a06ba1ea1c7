// LINE WORKS bot API: POST /v1.0/bots/{botId}/users/{userId}/messages and
// /v1.0/bots/{botId}/channels/{channelId}/messages behind a bearer token with the bot scope,
// answered 201 and recorded in the LINE WORKS message log; and signed callbacks delivered on request.
import { createHmac } from "node:crypto";
import { readJson, type Handler } from "./context.ts";
import { decodeUtf8, mediaType, messageError, readBody, send, type Ctx } from "./http.ts";
import { newUserId } from "./ids.ts";
import { postSigned, targetUrl } from "./webhooks.ts";
import { worksOf, worksTokenState, type WorksBot } from "./works-state.ts";

/** A rate-limit window (per bot), ms. */
const RATE_WINDOW_MS = 60_000;
/** Text messages longer than this are refused (LINE WORKS' documented limit). */
const MAX_TEXT_LENGTH = 2000;
const BOT_SCOPES = new Set(["bot", "bot.message"]);

/** The API's error shape: `{"code","description"}`. */
export function worksApiError(ctx: Ctx, status: number, code: string, description: string, headers?: Record<string, string>): void {
  send(ctx, status, { code, description }, headers);
}

/** A fault on a LINE WORKS path, answered in that path's error shape (auth: RFC 6749; API: code/description). */
export function worksFault(ctx: Ctx, status: number, retryAfter: number | string | undefined): void {
  const headers: Record<string, string> = {};
  if (retryAfter !== undefined) {
    if (typeof retryAfter === "number") headers["ratelimit-reset"] = String(retryAfter);
    else headers["retry-after"] = retryAfter;
  }
  const code = status === 429 ? "TOO_MANY_REQUESTS" : status >= 500 ? "SERVICE_UNAVAILABLE" : "INJECTED_FAULT";
  if (ctx.path.startsWith("/oauth2/")) {
    const error = status === 429 ? "rate_limit_exceeded" : status >= 500 ? "temporarily_unavailable" : "invalid_request";
    send(ctx, status, { error, error_description: `Injected fault (HTTP ${status})` }, headers);
  } else worksApiError(ctx, status, code, `Injected fault (HTTP ${status})`, headers);
}

function rateLimited(ctx: Ctx, bot: WorksBot, now: number): boolean {
  const limit = bot.rateLimitPerMinute;
  if (limit === null) return false;
  if (now - bot.windowStart >= RATE_WINDOW_MS) {
    bot.windowStart = now;
    bot.windowCount = 0;
  }
  const reset = String(Math.max(1, Math.ceil((bot.windowStart + RATE_WINDOW_MS - now) / 1000)));
  if (bot.windowCount >= limit) {
    worksApiError(ctx, 429, "TOO_MANY_REQUESTS", "Too many requests", { "ratelimit-limit": String(limit), "ratelimit-remaining": "0", "ratelimit-reset": reset });
    return true;
  }
  bot.windowCount++;
  ctx.res.setHeader("ratelimit-limit", String(limit));
  ctx.res.setHeader("ratelimit-remaining", String(limit - bot.windowCount));
  ctx.res.setHeader("ratelimit-reset", reset);
  return false;
}

/** POST /v1.0/bots/{botId}/(users|channels)/{id}/messages */
export const sendBotMessage = (botId: string, to: "users" | "channels", id: string): Handler => async (ctx, em) => {
  const works = worksOf(em);
  // Read first, so that every answer below leaves the connection reusable.
  const body = await readBody(ctx.req);
  const now = em.state.now();
  const m = /^Bearer +(\S+)\s*$/i.exec(ctx.req.headers.authorization ?? "");
  const token = m ? works.tokens.get(m[1]!) : undefined;
  if (!token || token.type !== "access" || worksTokenState(token, now) !== "valid") {
    const status = token ? (works.apps.get(token.clientId)?.unauthorizedStatus ?? 401) : 401;
    return worksApiError(ctx, status, "UNAUTHORIZED", token ? "The access token has expired or was revoked" : "Authentication failed: no valid access token");
  }
  if (!token.scopes.some((s) => BOT_SCOPES.has(s))) return worksApiError(ctx, 403, "FORBIDDEN", 'The access token lacks the "bot" scope');
  const bot = works.bots.get(botId);
  if (!bot) return worksApiError(ctx, 404, "NOT_FOUND", `Bot ${botId} not found`);
  if (rateLimited(ctx, bot, now)) return;
  if (body === "too-large") return worksApiError(ctx, 413, "PAYLOAD_TOO_LARGE", "The request body is too large");
  if (mediaType(ctx.req) !== "application/json") return worksApiError(ctx, 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json");
  let json: unknown;
  try {
    json = JSON.parse(decodeUtf8(body) ?? "\u0000");
  } catch {
    return worksApiError(ctx, 400, "INVALID_PARAMETER", "The request body is not JSON");
  }
  const content = (json as { content?: unknown } | null)?.content as Record<string, unknown> | undefined;
  if (content === null || typeof content !== "object" || Array.isArray(content) || typeof content["type"] !== "string") {
    return worksApiError(ctx, 400, "INVALID_PARAMETER", "content with a type is required");
  }
  if (content["type"] === "text") {
    const text = content["text"];
    if (typeof text !== "string" || text === "" || text.length > MAX_TEXT_LENGTH) return worksApiError(ctx, 400, "INVALID_PARAMETER", `content.text must be 1 to ${MAX_TEXT_LENGTH} characters`);
  }
  works.messages.push({ botId, userId: to === "users" ? id : null, channelId: to === "channels" ? id : null, clientId: token.clientId, content, requestId: ctx.requestId, at: now });
  send(ctx, 201);
};

/**
 * `X-WORKS-Signature`: Base64 (standard, padded) of HMAC-SHA256 over the raw body, keyed with the Bot Secret.
 *
 * @example
 * ```ts
 * const sig = worksSignature('{"type":"message"}', botSecret);
 * ```
 */
export function worksSignature(body: string | Uint8Array, botSecret: string): string {
  return createHmac("sha256", botSecret).update(body).digest("base64");
}

/** POST /__emulator/works/callbacks {botId, url, event?, rawBody?}: signs and delivers one callback. */
export const deliverWorksCallback: Handler = async (ctx, em) => {
  const input = await readJson(ctx, { anyContentType: true });
  if (!input) return;
  const { botId, url, event, rawBody } = input;
  if (typeof botId !== "string") return messageError(ctx, 400, "botId must be a string");
  const bot = worksOf(em).bots.get(botId);
  if (!bot) return messageError(ctx, 404, `bot ${botId} not found (create it with POST /__emulator/works/bots)`);
  const target = targetUrl(url);
  if (!target) return messageError(ctx, 400, "url must be an http(s) URL");
  if (event !== undefined && (event === null || typeof event !== "object" || Array.isArray(event))) return messageError(ctx, 400, "event must be an object");
  if (rawBody !== undefined && typeof rawBody !== "string") return messageError(ctx, 400, "rawBody must be a string");
  if (rawBody !== undefined && event !== undefined) return messageError(ctx, 400, "give event or rawBody, not both");
  const now = em.state.now();
  // One event per callback, completed the way LINE WORKS sends it; the caller's fields win.
  const body = rawBody ?? JSON.stringify({
    type: "message",
    source: { userId: newUserId("").slice(0, 8) + "-works-user", domainId: 10000001 },
    issuedTime: new Date(now).toISOString(),
    content: { type: "text", text: "hello" },
    ...(event as Record<string, unknown> | undefined),
  });
  const signature = worksSignature(body, bot.botSecret);
  const headers = { "content-type": "application/json; charset=UTF-8", "x-works-botid": botId, "x-works-signature": signature };
  send(ctx, 200, { ...(await postSigned(target, headers, body)), body, signature });
};
