/**
 * Calling the handler for one event, shared by the in-memory queue (./queue.ts) and the durable
 * inbox (./inbox.ts): a handler's failure is logged, never thrown, and a synchronous handler
 * costs no promise.
 */
import { describeError, isPromise } from "./log.ts";
import type { DeliveryInfo, ResolvedWebhookOptions } from "./options.ts";
import type { Logger, WebhookEvent } from "./types.ts";

/** Calls the handler; a promise (never rejecting) only when the handler returned one. */
export type Deliver = (event: WebhookEvent, info: DeliveryInfo) => Promise<void> | undefined;

/**
 * The deliver function of an intake: the bot's dispatch, else onEvent, else nothing.
 *
 * @example
 * ```ts
 * const deliver = createDeliver(resolveWebhookOptions({ channelSecret, onEvent }));
 * await deliver(event, { channelId: "1234567890", destination: "U…" });
 * ```
 */
export function createDeliver(options: Pick<ResolvedWebhookOptions, "bot" | "onEvent" | "logger">): Deliver {
  const { bot, onEvent } = options;
  const logger: Logger = options.logger;
  const dispatch: (event: WebhookEvent, info: DeliveryInfo) => unknown = bot !== undefined ? (event, info) => bot.dispatch(event, info) : (onEvent ?? (() => undefined));
  const failed = (info: DeliveryInfo, event: WebhookEvent, err: unknown): void => {
    logger.error({ channelId: info.channelId, eventType: event.type, webhookEventId: event.webhookEventId, err: describeError(err) }, "webhook event handler failed");
  };
  return (event, info) => {
    let result: unknown;
    try {
      result = dispatch(event, info);
    } catch (err) {
      failed(info, event, err);
      return undefined;
    }
    if (isPromise(result)) {
      return (result as Promise<unknown>).then(
        () => undefined,
        (err: unknown) => failed(info, event, err),
      );
    }
    return undefined;
  };
}
