/**
 * The two Messaging API calls the webhook bot needs: reply and push. The access token is passed in
 * (the TokenManager owns it); on a 401 the caller should invalidate it and try once more.
 *
 * - Reply: no X-Line-Retry-Key (LINE answers 400 to one). Retried on network errors, timeouts and
 *   5xx, never on a 4xx: a reply token works once, so a repeat of a reply that did get through is
 *   refused (400) rather than delivered twice, and the error is then flagged ambiguous.
 * - Push: a random X-Line-Retry-Key (UUID) on the first attempt, the same key and the same bytes on
 *   every retry (network errors, timeouts and 5xx only). LINE executes a key at most once in 24 h;
 *   a 409 "already accepted" is success and carries the original sentMessages.
 */
import { InvalidInputError } from "../../core/errors.ts";
import type { LineHttp, ParseContext } from "./http.ts";
import type { LineCallOptions } from "./tokens.ts";
import { checkToken, readObject, type JsonObject } from "./validate.ts";

/** A Messaging API message object (`{ type: "text", text: "こんにちは!" }`, …), passed through as is. */
export interface LineMessage {
  type: string;
  [field: string]: unknown;
}

/** POST /v2/bot/message/reply body. */
export interface ReplyMessageRequest {
  replyToken: string;
  /** 1 to 5 messages. */
  messages: LineMessage[];
  notificationDisabled?: boolean;
}

/** POST /v2/bot/message/push body. */
export interface PushMessageRequest {
  /** User, group or room ID. */
  to: string;
  /** 1 to 5 messages. */
  messages: LineMessage[];
  notificationDisabled?: boolean;
  customAggregationUnits?: string[];
}

/** One sent message. IDs exceed 2^53: always strings. */
export interface SentMessage {
  id: string;
  quoteToken?: string;
}

/** Result of a reply. */
export interface ReplyMessageResult {
  sentMessages: SentMessage[];
  /** LINE's X-Line-Request-Id. */
  requestId: string | undefined;
}

/** Result of a push. */
export interface PushMessageResult {
  sentMessages: SentMessage[];
  /** The X-Line-Retry-Key the push was sent with. */
  retryKey: string;
  /** LINE's X-Line-Request-Id. */
  requestId: string | undefined;
  /** True when LINE answered 409: this key had already been accepted, `sentMessages` are the original ones. */
  duplicate: boolean;
  /** On a duplicate, the request id of the accepted request (x-line-accepted-request-id). */
  acceptedRequestId: string | undefined;
}

/** Options of {@link pushMessage}. */
export interface PushMessageOptions extends LineCallOptions {
  /** Re-send a push that failed earlier with the key it was given (`error.retryKey`); default a new UUID. */
  retryKey?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Replies to an event (POST /v2/bot/message/reply).
 *
 * @example
 * ```ts
 * await replyMessage(http, token.accessToken, { replyToken: event.replyToken, messages: [{ type: "text", text: "こんにちは!" }] });
 * ```
 */
export async function replyMessage(http: LineHttp, accessToken: string, request: ReplyMessageRequest, options: LineCallOptions = {}): Promise<ReplyMessageResult> {
  checkToken(accessToken);
  if (typeof request?.replyToken !== "string" || request.replyToken === "") {
    throw new InvalidInputError("replyToken must be the non-empty reply token of the event.", { field: "replyToken" });
  }
  checkMessages(request.messages);
  const body: Record<string, unknown> = { replyToken: request.replyToken, messages: request.messages };
  if (request.notificationDisabled !== undefined) body["notificationDisabled"] = request.notificationDisabled;
  const json = JSON.stringify(body);
  return http.send({
    method: "POST",
    path: "/v2/bot/message/reply",
    retry: "messaging",
    signal: options.signal,
    build: () => ({ json, headers: { authorization: `Bearer ${accessToken}` }, secrets: [accessToken, request.replyToken] }),
    parse: (res, ctx) => ({ sentMessages: readSentMessages(readObject(res.text, ctx), ctx), requestId: res.requestId }),
  });
}

/**
 * Pushes messages (POST /v2/bot/message/push) with an X-Line-Retry-Key, so that retries after a
 * timeout or 5xx can never deliver twice. A 409 for an already accepted key is success.
 *
 * @example
 * ```ts
 * const r = await pushMessage(http, token.accessToken, { to: userId, messages: [{ type: "text", text: "done" }] });
 * console.log(r.retryKey, r.duplicate, r.sentMessages[0]?.id);
 * ```
 */
export async function pushMessage(http: LineHttp, accessToken: string, request: PushMessageRequest, options: PushMessageOptions = {}): Promise<PushMessageResult> {
  checkToken(accessToken);
  if (typeof request?.to !== "string" || request.to === "") {
    throw new InvalidInputError("to must be the non-empty ID of a user, group or room.", { field: "to" });
  }
  checkMessages(request.messages);
  const retryKey = options.retryKey ?? http.config.randomUUID();
  if (!UUID.test(retryKey)) throw new InvalidInputError("retryKey must be a UUID such as 123e4567-e89b-12d3-a456-426614174000.", { field: "retryKey" });
  const body: Record<string, unknown> = { to: request.to, messages: request.messages };
  if (request.notificationDisabled !== undefined) body["notificationDisabled"] = request.notificationDisabled;
  if (request.customAggregationUnits !== undefined) body["customAggregationUnits"] = request.customAggregationUnits;
  const json = JSON.stringify(body);
  return http.send({
    method: "POST",
    path: "/v2/bot/message/push",
    retry: "messaging",
    signal: options.signal,
    retryKey,
    build: () => ({ json, headers: { authorization: `Bearer ${accessToken}`, "x-line-retry-key": retryKey }, secrets: [accessToken] }),
    accept: (status) => (status >= 200 && status < 300) || status === 409,
    parse(res, ctx): PushMessageResult {
      if (res.status !== 409) {
        return { sentMessages: readSentMessages(readObject(res.text, ctx), ctx), retryKey, requestId: res.requestId, duplicate: false, acceptedRequestId: undefined };
      }
      // A 409 without the original sentMessages is some other conflict: a plain error.
      let o: JsonObject | undefined;
      try {
        o = JSON.parse(res.text) as JsonObject;
      } catch {
        o = undefined;
      }
      if (typeof o !== "object" || o === null || !Array.isArray(o["sentMessages"])) throw ctx.apiError(res);
      return {
        sentMessages: readSentMessages(o, ctx),
        retryKey,
        requestId: res.requestId,
        duplicate: true,
        acceptedRequestId: res.headers.get("x-line-accepted-request-id") ?? undefined,
      };
    },
  });
}

function checkMessages(messages: unknown): void {
  if (!Array.isArray(messages) || messages.length < 1 || messages.length > 5) {
    throw new InvalidInputError("messages must be an array of 1 to 5 message objects.", { field: "messages" });
  }
  for (const m of messages) {
    if (typeof m !== "object" || m === null || typeof (m as { type?: unknown }).type !== "string") {
      throw new InvalidInputError("Each message must be an object with a string type, e.g. { type: \"text\", text: \"hi\" }.", { field: "messages" });
    }
  }
}

function readSentMessages(o: JsonObject, ctx: ParseContext): SentMessage[] {
  const list = o["sentMessages"];
  if (list === undefined) ctx.bad("sentMessages", "is missing");
  if (!Array.isArray(list) || list.length === 0) ctx.bad("sentMessages", "is not a non-empty array");
  return list.map((item: unknown, i: number) => {
    if (typeof item !== "object" || item === null) ctx.bad(`sentMessages[${i}]`, "is not an object");
    const { id, quoteToken } = item as Record<string, unknown>;
    if (typeof id !== "string" || id === "") ctx.bad(`sentMessages[${i}].id`, "is not a non-empty string");
    if (quoteToken !== undefined && typeof quoteToken !== "string") ctx.bad(`sentMessages[${i}].quoteToken`, "is not a string");
    return quoteToken === undefined ? { id } : { id, quoteToken };
  });
}
