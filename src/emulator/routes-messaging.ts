// Messaging API: reply and push, behind a bearer token of the channel.
import { readJson, type Emulator, type Handler } from "./context.ts";
import { messageError, send, type Ctx } from "./http.ts";
import { newMessageId, newQuoteToken } from "./ids.ts";
import { tokenState, type MessageRecord, type TokenRecord } from "./state.ts";

/** An accepted X-Line-Retry-Key is remembered this long. */
export const RETRY_KEY_TTL_MS = 24 * 60 * 60 * 1000;

const MESSAGE_TYPES = new Set(["text", "sticker", "image", "video", "audio", "location", "imagemap", "template", "flex", "coupon", "textV2"]);
/** Types LINE answers with a quoteToken (those a user can quote). */
const QUOTABLE = new Set(["text", "textV2", "sticker", "image", "video"]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const RECIPIENT = /^[UCR][0-9a-f]{32}$/;

type Detail = { message: string; property: string };

/** The channel's live token from `Authorization: Bearer`, or a 401 answered. */
function authenticate(ctx: Ctx, em: Emulator): TokenRecord | undefined {
  const header = ctx.req.headers.authorization;
  const m = header === undefined ? null : /^Bearer +(\S+)\s*$/i.exec(header);
  if (!m) {
    messageError(ctx, 401, "Authorization header required. Must follow the scheme, 'Authorization: Bearer <ACCESS TOKEN>'");
    return undefined;
  }
  const record = em.state.tokens.get(m[1]!);
  if (!record || tokenState(record, em.state.now()) !== "valid") {
    // Expired, revoked and unknown tokens all get the same 401.
    messageError(ctx, 401, "Authentication failed. Confirm that the access token in the authorization header is valid.");
    return undefined;
  }
  return record;
}

/** Validates the parts of a message request LINE checks for every message type. */
function validateMessages(body: Record<string, unknown>, details: Detail[]): void {
  const messages = body["messages"];
  if (!Array.isArray(messages)) {
    details.push({ message: "must be specified", property: "messages" });
    return;
  }
  if (messages.length < 1 || messages.length > 5) {
    details.push({ message: "Size must be between 1 and 5", property: "messages" });
    return;
  }
  messages.forEach((m: unknown, i) => {
    const p = `messages[${i}]`;
    if (m === null || typeof m !== "object" || Array.isArray(m)) {
      details.push({ message: "must be an object", property: p });
      return;
    }
    const msg = m as Record<string, unknown>;
    if (typeof msg["type"] !== "string" || !MESSAGE_TYPES.has(msg["type"])) {
      details.push({ message: `Must be one of the following values: [${[...MESSAGE_TYPES].join(", ")}]`, property: `${p}.type` });
      return;
    }
    // Only text and sticker are checked field by field; other types are accepted as sent.
    if (msg["type"] === "text" || msg["type"] === "textV2") {
      const text = msg["text"];
      if (typeof text !== "string" || text.length === 0) details.push({ message: "May not be empty", property: `${p}.text` });
      else if ([...text].length > 5000) details.push({ message: "Length must be between 0 and 5000", property: `${p}.text` });
    } else if (msg["type"] === "sticker") {
      for (const f of ["packageId", "stickerId"]) if (typeof msg[f] !== "string" || msg[f] === "") details.push({ message: "May not be empty", property: `${p}.${f}` });
    }
  });
  if (body["notificationDisabled"] !== undefined && typeof body["notificationDisabled"] !== "boolean") {
    details.push({ message: "must be a boolean", property: "notificationDisabled" });
  }
}

/**
 * Checks the recipient field (`replyToken` or `to`) and the messages, and answers 400 listing
 * every problem; true when it answered.
 */
function rejectBody(ctx: Ctx, body: Record<string, unknown>, recipient: "replyToken" | "to"): boolean {
  const details: Detail[] = [];
  const value = body[recipient];
  if (typeof value !== "string" || value === "") details.push({ message: "must be specified", property: recipient });
  validateMessages(body, details);
  if (details.length === 0) return false;
  messageError(ctx, 400, `The request body has ${details.length} error(s)`, details);
  return true;
}

function sentMessagesFor(body: Record<string, unknown>): Array<{ id: string; quoteToken?: string }> {
  return (body["messages"] as Array<Record<string, unknown>>).map((m) =>
    QUOTABLE.has(m["type"] as string) ? { id: newMessageId(), quoteToken: newQuoteToken() } : { id: newMessageId() });
}

function record(em: Emulator, ctx: Ctx, r: Omit<MessageRecord, "requestId" | "at">): void {
  em.state.messages.push({ ...r, requestId: ctx.requestId, at: em.state.now() });
}

/** POST /v2/bot/message/reply */
export const reply: Handler = async (ctx, em) => {
  const token = authenticate(ctx, em);
  if (!token) return;
  const body = await readJson(ctx);
  if (!body) return;
  if (ctx.req.headers["x-line-retry-key"] !== undefined) {
    messageError(ctx, 400, "X-Line-Retry-Key is not supported by the reply endpoint");
    return;
  }
  if (rejectBody(ctx, body, "replyToken")) return;
  const replyToken = body["replyToken"] as string;
  const rt = em.state.replyTokens.get(replyToken);
  // Unknown, used, expired, or minted for another channel: LINE answers all alike.
  if (!rt || rt.used || rt.channelId !== token.channelId || rt.expiresAt <= em.state.now()) {
    messageError(ctx, 400, "Invalid reply token");
    return;
  }
  rt.used = true;
  const sentMessages = sentMessagesFor(body);
  record(em, ctx, { channelId: token.channelId, kind: "reply", to: null, replyToken, retryKey: null, body, sentMessages });
  send(ctx, 200, { sentMessages });
};

/** POST /v2/bot/message/push */
export const push: Handler = async (ctx, em) => {
  const token = authenticate(ctx, em);
  if (!token) return;
  const body = await readJson(ctx);
  if (!body) return;
  const retryHeader = ctx.req.headers["x-line-retry-key"];
  const retryKey = Array.isArray(retryHeader) ? retryHeader.join(",") : retryHeader;
  if (retryKey !== undefined && !UUID.test(retryKey)) {
    messageError(ctx, 400, "The value of the X-Line-Retry-Key header must be a UUID (e.g. 123e4567-e89b-12d3-a456-426614174000)");
    return;
  }
  const now = em.state.now();
  const retryId = retryKey === undefined ? undefined : `${token.channelId}\n${retryKey.toLowerCase()}`;
  if (retryId !== undefined) {
    const seen = em.state.retryKeys.get(retryId);
    if (seen && now - seen.at < RETRY_KEY_TTL_MS) {
      messageError(ctx, 409, "The retry key is already accepted", undefined, { sentMessages: seen.sentMessages }, { "x-line-accepted-request-id": seen.requestId });
      return;
    }
  }
  if (rejectBody(ctx, body, "to")) return;
  const to = body["to"] as string;
  if (!RECIPIENT.test(to)) {
    messageError(ctx, 400, "The property, 'to', in the request body is invalid (line: -, column: -)");
    return;
  }
  const sentMessages = sentMessagesFor(body);
  // Only an accepted request consumes the retry key: a 4xx leaves it free for a corrected retry.
  if (retryId !== undefined) em.state.retryKeys.set(retryId, { requestId: ctx.requestId, at: now, sentMessages });
  record(em, ctx, { channelId: token.channelId, kind: "push", to, replyToken: null, retryKey: retryKey ?? null, body, sentMessages });
  send(ctx, 200, { sentMessages });
};
