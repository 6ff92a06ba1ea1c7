/**
 * Fastify adapter: a plugin that registers the webhook route with its own raw-body parser.
 * Registered without fastify-plugin, so the parser change stays inside the plugin and the rest
 * of the app keeps Fastify's JSON parsing.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { WebhookConfigError } from "../errors.ts";
import { createIntake, splitAdapterOptions, type Outcome, type WebhookOptions } from "../intake.ts";
import { channelIdFromPath } from "../parse.ts";
import { LINE_WORKS_PLATFORM } from "../platform.ts";
import { nodeDigest, nodeUtf8Decoder, nodeVerifier } from "./node.ts";

/** Options of {@link createFastifyWebhookPlugin}. */
export interface FastifyWebhookOptions extends WebhookOptions {
  /** Route path (default "/webhook/:channelId", or "/webhook" with channelSecret). */
  path?: string;
  /** Multi-channel mode: the channel (default the `channelId` route parameter). */
  channelIdFrom?: (request: FastifyRequest) => string | null | undefined;
  /**
   * Route path of LINE WORKS bot callbacks (default "/webhook/works/:botId", whose `botId`
   * parameter names the bot); registered only when `botSecretFor` is given.
   */
  worksPath?: string;
}

/** The plugin, with a way to wait for queued events. */
export interface FastifyWebhookPlugin {
  (fastify: FastifyInstance): Promise<void>;
  drain(): Promise<void>;
  /** Stops the inbox's polling and lease extension (after drain, on shutdown); a no-op without an inbox. */
  close(): Promise<void>;
  readonly pending: number;
}

/** Sends an outcome decided now or later. */
function answer(reply: FastifyReply, out: Outcome | Promise<Outcome>): FastifyReply | Promise<FastifyReply> {
  return out instanceof Promise ? out.then((o) => send(reply, o)) : send(reply, out);
}

function send(reply: FastifyReply, outcome: Outcome): FastifyReply {
  if (outcome.body === "") return reply.code(outcome.status).send();
  return reply.code(outcome.status).header("cache-control", "no-store").type("application/json; charset=utf-8").send(outcome.body);
}

/**
 * Creates a Fastify plugin serving LINE webhooks on `path`.
 *
 * @example
 * ```ts
 * import Fastify from "fastify";
 * import { createFastifyWebhookPlugin } from "kagiya/webhook";
 * const app = Fastify();
 * await app.register(createFastifyWebhookPlugin({ secretFor, bot }));
 * await app.listen({ port: 3000 });
 * ```
 */
export function createFastifyWebhookPlugin(options: FastifyWebhookOptions): FastifyWebhookPlugin {
  if ((options as { bodyTimeoutMs?: unknown } | null)?.bodyTimeoutMs !== undefined) {
    throw new WebhookConfigError("bodyTimeoutMs is for the node:http and Express adapters; with Fastify use its own requestTimeout / connectionTimeout.");
  }
  const { own, core } = splitAdapterOptions(options, ["path", "channelIdFrom", "worksPath"]);
  for (const key of ["path", "worksPath"] as const) {
    const value: unknown = own[key];
    if (value !== undefined && (typeof value !== "string" || !value.startsWith("/"))) throw new WebhookConfigError(`Webhook option ${key} must be a route path starting with "/".`);
  }
  const intake = createIntake(core, { decode: nodeUtf8Decoder, digest: nodeDigest });
  const channelIdFrom = own.channelIdFrom;
  const route = own.path ?? (intake.singleChannelId !== null ? "/webhook" : "/webhook/:channelId");
  const worksRoute = core.botSecretFor !== undefined ? (own.worksPath ?? "/webhook/works/:botId") : null;

  function channelOf(request: FastifyRequest): string | null {
    if (intake.singleChannelId !== null) return intake.singleChannelId;
    if (channelIdFrom !== undefined) return channelIdFrom(request) ?? null;
    const p = (request.params as Record<string, string | undefined> | undefined)?.["channelId"];
    return p !== undefined ? channelIdFromPath(p) : channelIdFromPath(request.url);
  }

  const plugin = async (fastify: FastifyInstance): Promise<void> => {
    fastify.removeAllContentTypeParsers();
    fastify.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: intake.maxBodyBytes }, (_req, body, done) => done(null, body));
    fastify.setErrorHandler((err: { code?: string; statusCode?: number }, request, reply) => {
      if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE") return send(reply.header("connection", "close"), intake.reject(channelOf(request), "ERR_WEBHOOK_BODY_TOO_LARGE"));
      const status = typeof err.statusCode === "number" && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
      return reply.code(status).type("application/json; charset=utf-8").send(JSON.stringify({ error: "ERR_WEBHOOK_BAD_REQUEST", message: "The webhook request could not be read." }));
    });
    fastify.post(route, (request, reply) => {
      const channelId = channelOf(request);
      const raw = request.headers["x-line-signature"];
      const signature = typeof raw === "string" ? raw : null;
      const body = Buffer.isBuffer(request.body) ? request.body : new Uint8Array(0);
      return answer(reply, intake.process(channelId, signature, body, nodeVerifier));
    });
    if (worksRoute !== null) {
      fastify.post(worksRoute, (request, reply) => {
        const p = (request.params as Record<string, string | undefined> | undefined)?.["botId"];
        const botId = channelIdFromPath(p ?? request.url);
        const raw = request.headers[LINE_WORKS_PLATFORM.signatureHeader];
        const body = Buffer.isBuffer(request.body) ? request.body : new Uint8Array(0);
        return answer(reply, intake.process(botId, typeof raw === "string" ? raw : null, body, nodeVerifier, LINE_WORKS_PLATFORM));
      });
    }
  };
  return Object.defineProperties(plugin, {
    drain: { value: () => intake.drain() },
    close: { value: () => intake.close() },
    pending: { get: () => intake.pending },
  }) as FastifyWebhookPlugin;
}
