/**
 * kagiya's LINE webhook intake: signature check over the raw body, de-duplication, a queue that
 * runs handlers after the response, bots as code, and adapters for node:http, Express and
 * Fastify. LINE WORKS bot callbacks go through the same intake (`handler.works`, `botSecretFor`,
 * `bot.onWorks`). This entry is web-standard only (WebCrypto, Request/Response); the Node adapters are
 * in `kagiya/webhook/node` (./adapters/index.ts).
 *
 * @example
 * ```ts
 * import { createBot, createWebhookHandler } from "kagiya/webhook";
 * const bot = createBot({ tokens, line }).on("message", (event, ctx) =>
 *   event.message.type === "text" ? ctx.reply({ type: "text", text: "こんにちは!" }) : undefined);
 * const handler = createWebhookHandler({ channelSecret: process.env.LINE_CHANNEL_SECRET!, channelId: "1234567890", bot });
 * Deno.serve(handler); // on Cloudflare Workers also ctx.waitUntil(handler.drain()), see docs/webhook.md
 * ```
 */
export { signWebhookBody, verifyWebhookSignature, timingSafeEqualString, SIGNATURE_LENGTH } from "../core/webhook/signature.ts";
export { createWebhookHandler, webCryptoVerifier, type WebhookHandler, type WebhookHandlerOptions } from "./handler.ts";
export {
  DEFAULT_DEDUP_TTL_MS,
  DEFAULT_MAX_BODY_BYTES,
  type DeliveryInfo,
  type EventDispatcher,
  type RejectInfo,
  type WebhookOptions,
} from "./options.ts";
export { channelIdFromPath } from "./parse.ts";
export { MemoryDedup, type DedupStore, type MemoryDedupOptions } from "./dedup.ts";
export { createBot, type Bot, type BotContext, type BotHandler, type BotLineClient, type BotOptions, type PushOptions, type SentMessage } from "./bot.ts";
export { createExampleBot, EXAMPLE_REPLY } from "./example-bot.ts";
export type { WorksBotHandler } from "./bot.ts";
export type { BotWorksClient, BotWorksOptions, WorksBotContext, WorksContent, WorksRecipient } from "./works-bot.ts";
export { worksEventProblem } from "./works-events.ts";
export type {
  WorksEvent,
  WorksEventBase,
  WorksEventMap,
  WorksEventSource,
  WorksJoinEvent,
  WorksJoinedEvent,
  WorksLeaveEvent,
  WorksLeftEvent,
  WorksMessageContent,
  WorksMessageEvent,
  WorksPostbackEvent,
} from "./works-events.ts";
export type { WebhookPlatformName } from "./platform.ts";
export { BotSendError, WebhookBodyConsumedError, WebhookConfigError, WEBHOOK_REJECTION_CODES, type WebhookRejectionCode } from "./errors.ts";
export type * from "./types.ts";
