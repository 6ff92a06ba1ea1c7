/**
 * Bots as code: `createBot()` returns a dispatcher whose handlers receive typed events and a
 * context with `reply()` and `push()` that use the managed token (a TokenSource) and the LINE
 * client. On a 401 from LINE the token is invalidated and the call retried once. LINE WORKS
 * events (`delivery.platform === "line-works"`) go to `onWorks` handlers (./works-bot.ts).
 */
import type { TokenSource } from "../tokens/types.ts";
import { WebhookConfigError } from "./errors.ts";
import { eventProblem } from "./events.ts";
import { defaultLogger, describeError } from "./log.ts";
import type { DeliveryInfo, EventDispatcher } from "./options.ts";
import { withTokenRetry } from "./token-retry.ts";
import type { Logger, Message, WebhookEvent, WebhookEventMap } from "./types.ts";
import { worksContexts, type BotWorksOptions, type WorksBotContext } from "./works-bot.ts";
import { worksEventProblem, type WorksEvent, type WorksEventMap } from "./works-events.ts";

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
  /** LINE WORKS: the client and which app owns a bot, for `onWorks` handlers' reply and send. */
  works?: BotWorksOptions;
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
  /** Adds a handler for one LINE WORKS event type (callbacks at `/webhook/works/{botId}`). */
  onWorks<K extends keyof WorksEventMap>(type: K, handler: WorksBotHandler<WorksEventMap[K]>): Bot;
  onWorks(type: string, handler: WorksBotHandler): Bot;
  dispatch(event: WebhookEvent, info: DeliveryInfo): Promise<void>;
}

/** A LINE WORKS event handler. */
export type WorksBotHandler<E extends WorksEvent = WorksEvent> = (event: E, ctx: WorksBotContext) => unknown;

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
    if (key !== "tokens" && key !== "line" && key !== "logger" && key !== "works") throw new WebhookConfigError(`Unknown bot option "${key}".`);
  }
  const { tokens, line } = options;
  if (typeof tokens?.get !== "function" || typeof tokens.invalidate !== "function") {
    throw new WebhookConfigError("createBot needs tokens: a TokenSource such as the TokenManager.");
  }
  if (typeof line?.replyMessage !== "function" || typeof line.pushMessage !== "function") {
    throw new WebhookConfigError("createBot needs line: a LINE client from createLineClient().");
  }
  const works = options.works;
  if (works !== undefined && (typeof works?.client?.sendBotMessage !== "function" || typeof works.credentialFor !== "function")) {
    throw new WebhookConfigError("createBot's works option needs client (createWorksClient()) and credentialFor(botId).");
  }
  const logger = options.logger ?? defaultLogger;
  const handlers = new Map<string, BotHandler[]>();
  const worksHandlers = new Map<string, WorksBotHandler[]>();
  const worksContextFor = worksContexts(works, tokens, logger);

  async function dispatchWorks(event: WorksEvent, info: DeliveryInfo): Promise<void> {
    const list = worksHandlers.get(event?.type);
    if (list === undefined) return;
    const problem = worksEventProblem(event);
    if (problem !== null) {
      logger.warn({ botId: info.channelId, platform: "line-works", eventType: event.type, problem: `the event ${problem}` }, "malformed LINE WORKS event skipped");
      return;
    }
    const ctx = worksContextFor(event, info.channelId);
    for (const handler of list) {
      try {
        await handler(event, ctx);
      } catch (err) {
        logger.error({ botId: info.channelId, platform: "line-works", eventType: event.type, err: describeError(err) }, "bot handler failed");
      }
    }
  }

  function add<H>(map: Map<string, H[]>, method: string, type: string, handler: H): void {
    if (typeof type !== "string" || type.length === 0) throw new WebhookConfigError(`bot.${method} needs an event type such as "message".`);
    if (typeof handler !== "function") throw new WebhookConfigError(`bot.${method}("${type}") needs a handler function.`);
    const list = map.get(type) ?? [];
    list.push(handler);
    map.set(type, list);
  }

  /** Runs `call` with the channel's token; on a 401 invalidates it and tries once more. */
  function withToken<T>(channelId: string, endpoint: string, call: (accessToken: string) => Promise<T>): Promise<T> {
    return withTokenRetry({ tokens, id: channelId, endpoint, logger, isUnauthorized, refused: "LINE refused the access token (401)", call });
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
      add(handlers, "on", type, handler as BotHandler);
      return bot;
    },
    onWorks(type: string, handler: WorksBotHandler<never>) {
      add(worksHandlers, "onWorks", type, handler as WorksBotHandler);
      return bot;
    },
    async dispatch(event, info) {
      if (info?.platform === "line-works") return dispatchWorks(event as unknown as WorksEvent, info);
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
