/**
 * Bots as code: `createBot()` returns a dispatcher whose handlers receive typed events and a
 * context with `reply()` and `push()` that use the managed token (a TokenSource) and the LINE
 * client. On a 401 from LINE the token is invalidated and the call retried once.
 */
import type { TokenSource } from "../tokens/types.ts";
import { BotSendError, WebhookConfigError } from "./errors.ts";
import { eventProblem } from "./events.ts";
import { defaultLogger, describeError } from "./log.ts";
import type { DeliveryInfo, EventDispatcher } from "./options.ts";
import type { Logger, Message, WebhookEvent, WebhookEventMap } from "./types.ts";

import type { SentMessage } from "../clients/line/messaging.ts";

export type { SentMessage };

/**
 * The two LINE client calls the bot needs; `createLineClient()` from src/clients/line fits.
 * Push must send the given X-Line-Retry-Key and reuse it on its own retries.
 */
export interface BotLineClient {
  replyMessage(accessToken: string, request: { replyToken: string; messages: Message[]; notificationDisabled?: boolean }): Promise<{ sentMessages: SentMessage[] }>;
  pushMessage(
    accessToken: string,
    request: { to: string; messages: Message[]; notificationDisabled?: boolean },
    options?: { retryKey?: string },
  ): Promise<{ sentMessages: SentMessage[]; retryKey: string; duplicate?: boolean }>;
}

/** Options of {@link createBot}. */
export interface BotOptions {
  /** Where access tokens come from: the TokenManager, or any TokenSource. */
  tokens: TokenSource;
  /** The LINE client (`createLineClient({ baseUrl })`). */
  line: BotLineClient;
  /** Notes (skipped replies) and handler errors; default warnings/errors to stderr. */
  logger?: Logger;
}

/** Options of {@link BotContext.push}. */
export interface PushOptions {
  notificationDisabled?: boolean;
  /** An X-Line-Retry-Key (UUID) to reuse from an earlier failed push; default a new one. */
  retryKey?: string;
}

/** What a handler gets besides the event. */
export interface BotContext {
  channelId: string;
  /** The bot's user ID. */
  destination: string;
  /**
   * Replies with the event's reply token. Resolves null, with a logged note, when the event has
   * no reply token, the channel is in standby mode, or the token was already used.
   */
  reply(messages: Message | Message[], options?: { notificationDisabled?: boolean }): Promise<SentMessage[] | null>;
  /** Pushes to a user, group or room, with an X-Line-Retry-Key reused on retries. */
  push(to: string, messages: Message | Message[], options?: PushOptions): Promise<{ sentMessages: SentMessage[]; retryKey: string }>;
  logger: Logger;
}

/** An event handler. */
export type BotHandler<E extends WebhookEvent = WebhookEvent> = (event: E, ctx: BotContext) => unknown;

/** A bot: register handlers with `on`, hand it to a webhook handler or adapter as `bot`. */
export interface Bot extends EventDispatcher {
  /** Adds a handler for one event type; handlers of a type run in the order they were added. */
  on<K extends keyof WebhookEventMap>(type: K, handler: BotHandler<WebhookEventMap[K]>): Bot;
  on(type: string, handler: BotHandler): Bot;
  dispatch(event: WebhookEvent, info: DeliveryInfo): Promise<void>;
}

function isUnauthorized(err: unknown): boolean {
  const e = err as { status?: unknown; code?: unknown } | null;
  return e !== null && typeof e === "object" && (e.status === 401 || e.code === "ERR_LINE_UNAUTHORIZED");
}

/**
 * Creates a bot.
 *
 * @example
 * ```ts
 * const bot = createBot({ tokens: manager, line: createLineClient() });
 * bot.on("message", async (event, ctx) => {
 *   if (event.message.type === "text") await ctx.reply({ type: "text", text: "こんにちは!" });
 * });
 * bot.on("follow", (event, ctx) => ctx.reply({ type: "text", text: "友だち追加ありがとう" }));
 * ```
 */
export function createBot(options: BotOptions): Bot {
  if (options === null || typeof options !== "object") throw new WebhookConfigError("createBot needs an options object.");
  for (const key of Object.keys(options)) {
    if (key !== "tokens" && key !== "line" && key !== "logger") throw new WebhookConfigError(`Unknown bot option "${key}".`);
  }
  const { tokens, line } = options;
  if (typeof tokens?.get !== "function" || typeof tokens.invalidate !== "function") {
    throw new WebhookConfigError("createBot needs tokens: a TokenSource such as the TokenManager.");
  }
  if (typeof line?.replyMessage !== "function" || typeof line.pushMessage !== "function") {
    throw new WebhookConfigError("createBot needs line: a LINE client from createLineClient().");
  }
  const logger = options.logger ?? defaultLogger;
  const handlers = new Map<string, BotHandler[]>();

  /** Runs `call` with the channel's token; on a 401 invalidates it and tries once more. */
  async function withToken<T>(channelId: string, endpoint: string, call: (accessToken: string) => Promise<T>): Promise<T> {
    const first = await tokens.get(channelId);
    try {
      return await call(first.accessToken);
    } catch (err) {
      if (!isUnauthorized(err)) throw err;
      logger.warn({ channelId, keyId: first.keyId, endpoint }, "LINE refused the access token (401); invalidating it and retrying once");
      await tokens.invalidate(channelId, first.keyId);
      const second = await tokens.get(channelId);
      try {
        return await call(second.accessToken);
      } catch (again) {
        if (isUnauthorized(again)) {
          throw new BotSendError(`LINE refused a fresh access token for channel ${channelId} on ${endpoint} (401 twice); check the channel's key registration.`, 401, { cause: again });
        }
        throw again;
      }
    }
  }

  function contextFor(event: WebhookEvent, info: DeliveryInfo): BotContext {
    let replyUsed = false;
    return {
      channelId: info.channelId,
      destination: info.destination,
      logger,
      async reply(messages, replyOptions) {
        const list = Array.isArray(messages) ? messages : [messages];
        const replyToken = event["replyToken"];
        const base = { channelId: info.channelId, eventType: event.type, webhookEventId: event.webhookEventId };
        if (event.mode === "standby") {
          logger.info(base, "reply skipped: the channel is in standby mode for this chat");
          return null;
        }
        if (typeof replyToken !== "string" || replyToken.length === 0) {
          logger.info(base, "reply skipped: the event has no reply token");
          return null;
        }
        if (replyUsed) {
          logger.warn(base, "reply skipped: this event's reply token was already used (send several messages in one reply, or push)");
          return null;
        }
        replyUsed = true;
        const request = { replyToken, messages: list, ...(replyOptions?.notificationDisabled !== undefined ? { notificationDisabled: replyOptions.notificationDisabled } : {}) };
        const result = await withToken(info.channelId, "reply", (token) => line.replyMessage(token, request));
        return result.sentMessages;
      },
      async push(to, messages, pushOptions) {
        const list = Array.isArray(messages) ? messages : [messages];
        // One key for both attempts around a 401: a 401 means nothing was sent.
        const retryKey = pushOptions?.retryKey ?? crypto.randomUUID();
        const request = { to, messages: list, ...(pushOptions?.notificationDisabled !== undefined ? { notificationDisabled: pushOptions.notificationDisabled } : {}) };
        const result = await withToken(info.channelId, "push", (token) => line.pushMessage(token, request, { retryKey }));
        return { sentMessages: result.sentMessages, retryKey: result.retryKey };
      },
    };
  }

  const bot: Bot = {
    on(type: string, handler: BotHandler<never>) {
      if (typeof type !== "string" || type.length === 0) throw new WebhookConfigError("bot.on needs an event type such as \"message\".");
      if (typeof handler !== "function") throw new WebhookConfigError(`bot.on("${type}") needs a handler function.`);
      const list = handlers.get(type) ?? [];
      list.push(handler as BotHandler);
      handlers.set(type, list);
      return bot;
    },
    async dispatch(event, info) {
      // `?.`: dispatch is public, and must not throw on what a caller hands it.
      const list = handlers.get(event?.type);
      if (list === undefined) return;
      // Handlers are typed by event type: one that lacks what its type promises never reaches them.
      const problem = eventProblem(event);
      if (problem !== null) {
        const id = event.webhookEventId;
        logger.warn(
          { channelId: info.channelId, eventType: event.type, ...(typeof id === "string" ? { webhookEventId: id } : {}), problem: `the event ${problem}` },
          "malformed webhook event skipped",
        );
        return;
      }
      const ctx = contextFor(event, info);
      for (const handler of list) {
        try {
          await handler(event, ctx);
        } catch (err) {
          logger.error(
            { channelId: info.channelId, eventType: event.type, webhookEventId: event.webhookEventId, err: describeError(err) },
            "bot handler failed",
          );
        }
      }
    },
  };
  return bot;
}
