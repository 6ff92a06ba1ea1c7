/**
 * The example bot: replies "こんにちは!" to every text message, as the seed FastAPI bot does, on
 * LINE and on LINE WORKS.
 * `kagiya serve` uses it when no bot of the user's own is configured.
 */
import { createBot, type Bot, type BotOptions } from "./bot.ts";

/**
 * The text the example bot answers with.
 *
 * @example
 * ```ts
 * assert.deepEqual(sent.body.messages, [{ type: "text", text: EXAMPLE_REPLY }]);
 * ```
 */
export const EXAMPLE_REPLY = "こんにちは!";

/**
 * Creates the example bot.
 *
 * @example
 * ```ts
 * const handler = createWebhookHandler({ secretFor, bot: createExampleBot({ tokens: manager, line }) });
 * ```
 */
export function createExampleBot(options: BotOptions): Bot {
  return createBot(options)
    .on("message", async (event, ctx) => {
      if (event.message.type === "text") await ctx.reply({ type: "text", text: EXAMPLE_REPLY });
    })
    // LINE WORKS too (when the bot is given `works`): a text message gets the same answer.
    .onWorks("message", async (event, ctx) => {
      if (event.content.type === "text") await ctx.reply({ type: "text", text: EXAMPLE_REPLY });
    });
}
