/**
 * LINE WORKS bot messages: POST /v1.0/bots/{botId}/users/{userId}/messages and
 * /v1.0/bots/{botId}/channels/{channelId}/messages (answer 201). A 401, or a 403
 * `{"code":"UNAUTHORIZED"}`, is `ERR_WORKS_UNAUTHORIZED`: the access token is dead, mint a new one.
 */
import { InvalidInputError } from "../../core/errors.ts";
import { TOKEN_CHARS } from "../line/validate.ts";
import type { WorksHttp } from "./http.ts";
import type { WorksCallOptions } from "./tokens.ts";

/** Where a message goes: one user, or one channel (a group talk room). */
export type WorksRecipient = { userId: string; channelId?: never } | { channelId: string; userId?: never };

/** A bot message request. `content` is sent as given (`{"type":"text","text":"..."}`, …). */
export type WorksBotMessage = WorksRecipient & { botId: string; content: Record<string, unknown> };

const ID = /^[^\s/?#%]{1,256}$/;

/**
 * Sends a bot message. Not retried once it may have reached LINE WORKS (there is no idempotency
 * key, so a retry could send it twice); retried on 429 and on failures that surely never left.
 *
 * @example
 * ```ts
 * await sendWorksBotMessage(http, accessToken, { botId, userId, content: { type: "text", text: "こんにちは!" } });
 * ```
 */
export async function sendWorksBotMessage(http: WorksHttp, accessToken: string, message: WorksBotMessage, options: WorksCallOptions = {}): Promise<void> {
  if (typeof accessToken !== "string" || !TOKEN_CHARS.test(accessToken)) {
    throw new InvalidInputError("The accessToken must be a non-empty string of printable ASCII characters (the value is not shown).", { field: "accessToken" });
  }
  if (typeof message.botId !== "string" || !ID.test(message.botId)) throw new InvalidInputError("botId must be the bot's ID.", { field: "botId" });
  const to = message.userId !== undefined ? { kind: "users", id: message.userId } : { kind: "channels", id: message.channelId };
  if ((message.userId === undefined) === (message.channelId === undefined)) throw new InvalidInputError("Give exactly one of userId or channelId.", { field: "userId" });
  if (typeof to.id !== "string" || !ID.test(to.id)) throw new InvalidInputError(`${to.kind === "users" ? "userId" : "channelId"} is not an ID.`, { field: to.kind === "users" ? "userId" : "channelId" });
  const content = message.content;
  if (content === null || typeof content !== "object" || Array.isArray(content) || typeof content["type"] !== "string") {
    throw new InvalidInputError('content must be an object with a type, e.g. {"type":"text","text":"hi"}.', { field: "content" });
  }
  const json = JSON.stringify({ content });
  await http.send({
    base: "api",
    method: "POST",
    path: `/v1.0/bots/${encodeURIComponent(message.botId)}/${to.kind}/${encodeURIComponent(to.id)}/messages`,
    retry: "unsafe",
    signal: options.signal,
    build: () => ({ json, headers: { authorization: `Bearer ${accessToken}` }, secrets: [accessToken] }),
    parse: () => undefined,
  });
}
