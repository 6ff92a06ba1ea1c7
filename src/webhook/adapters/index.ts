/**
 * Node adapters of the webhook intake (`kagiya/webhook/node`): node:http, Express, Fastify. They
 * read the raw body themselves and check signatures with node:crypto synchronously (faster than
 * WebCrypto per request; see bench/webhook.bench.ts); behaviour is the same as the web handler's.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { createNodeWebhookListener } from "kagiya/webhook/node";
 * createServer(createNodeWebhookListener({ channelSecret: process.env.LINE_CHANNEL_SECRET!, channelId: "1234567890", bot })).listen(3000);
 * ```
 */
export { createNodeWebhookListener, nodeUtf8Decoder, type NodeWebhookListener, type NodeWebhookOptions } from "./node.ts";
export { verifyWebhookSignatureSync } from "./node-signature.ts";
export { createExpressWebhookHandler, type ExpressWebhookHandler, type ExpressWebhookOptions } from "./express.ts";
export { createFastifyWebhookPlugin, type FastifyWebhookOptions, type FastifyWebhookPlugin } from "./fastify.ts";
