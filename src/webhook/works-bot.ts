/**
 * The LINE WORKS side of bots as code: the context a `bot.onWorks(…)` handler gets, whose `reply`
 * and `send` post `/v1.0/bots/{botId}/users/{userId}/messages` (or `/channels/{channelId}/messages`)
 * with the managed token of the app that owns the bot. A dead token (401, or 403
 * `{"code":"UNAUTHORIZED"}`, both `ERR_WORKS_UNAUTHORIZED` from kagiya's LINE WORKS client) is
 * invalidated and the message sent once more with a freshly minted one.
 */
import type { WorksBotMessage, WorksRecipient } from "../clients/works/bots.ts";
import type { TokenSource } from "../tokens/types.ts";
import { BotSendError } from "./errors.ts";
import { withTokenRetry } from "./token-retry.ts";
import type { Logger } from "./types.ts";
import type { WorksEvent } from "./works-events.ts";

export type { WorksRecipient };

/** The one LINE WORKS call a bot needs; `createWorksClient()` from kagiya/clients/works fits. */
export interface BotWorksClient {
  sendBotMessage(accessToken: string, message: WorksBotMessage): Promise<void>;
}

/** How a bot sends on LINE WORKS. */
export interface BotWorksOptions {
  /** The LINE WORKS client (`createWorksClient({ apiBaseUrl })`). */
  client: BotWorksClient;
  /**
   * The credential ID of the LINE WORKS app that owns a bot (its token sends the bot's messages),
   * or null when none does.
   */
  credentialFor(botId: string): string | null | undefined | Promise<string | null | undefined>;
  /** Where the app's access tokens come from (default: the bot's `tokens`). */
  tokens?: TokenSource;
}

/** Message content for LINE WORKS, e.g. `{ type: "text", text: "こんにちは!" }`. */
export type WorksContent = { type: "text"; text: string; [field: string]: unknown } | { type: string; [field: string]: unknown };

/** What a LINE WORKS handler gets besides the event. */
export interface WorksBotContext {
  /** The bot the callback was for. */
  botId: string;
  platform: "line-works";
  /**
   * Sends to where the event came from: its talk room when it has one, else its user. Several
   * contents are sent one after another (LINE WORKS takes one per request).
   */
  reply(content: WorksContent | WorksContent[]): Promise<void>;
  /** Sends to a user or a talk room as this bot. */
  send(to: WorksRecipient, content: WorksContent | WorksContent[]): Promise<void>;
  logger: Logger;
}

function isWorksUnauthorized(err: unknown): boolean {
  const e = err as { code?: unknown } | null;
  return e !== null && typeof e === "object" && e.code === "ERR_WORKS_UNAUTHORIZED";
}

/**
 * Builds the contexts of LINE WORKS handlers for one bot.
 *
 * @example
 * ```ts
 * const contextFor = worksContexts({ client, credentialFor: () => "works-billing" }, manager, logger);
 * await contextFor(event, "2000001").reply({ type: "text", text: "hi" });
 * ```
 */
export function worksContexts(options: BotWorksOptions | undefined, fallbackTokens: TokenSource, logger: Logger): (event: WorksEvent, botId: string) => WorksBotContext {
  const tokens = options?.tokens ?? fallbackTokens;

  async function credentialOf(botId: string): Promise<string> {
    if (options === undefined) throw new BotSendError(`the bot has no LINE WORKS client (createBot({ works: { client, credentialFor } })), so it cannot send as bot ${botId}`, 0);
    const id = await options.credentialFor(botId);
    if (typeof id !== "string" || id.length === 0) throw new BotSendError(`no LINE WORKS app owns bot ${botId} (kagiya works add … --bot-id ${botId} --bot-secret-env VAR)`, 0);
    return id;
  }

  async function send(botId: string, to: WorksRecipient, content: WorksContent | WorksContent[]): Promise<void> {
    const credentialId = await credentialOf(botId);
    const list = Array.isArray(content) ? content : [content];
    for (const c of list) {
      const message = { botId, ...to, content: c } as WorksBotMessage;
      await withTokenRetry({
        tokens,
        id: credentialId,
        endpoint: "bot message",
        logger,
        isUnauthorized: isWorksUnauthorized,
        refused: "LINE WORKS refused the access token (401 or 403 UNAUTHORIZED)",
        call: (token) => options!.client.sendBotMessage(token, message),
      });
    }
  }

  return (event, botId) => ({
    botId,
    platform: "line-works",
    logger,
    reply(content) {
      const source = event.source;
      const to: WorksRecipient | null = typeof source.channelId === "string" ? { channelId: source.channelId } : typeof source.userId === "string" ? { userId: source.userId } : null;
      if (to === null) return Promise.reject(new BotSendError(`the ${event.type} event has neither a user nor a talk room to reply to`, 0));
      return send(botId, to, content);
    },
    send: (to, content) => send(botId, to, content),
  });
}
