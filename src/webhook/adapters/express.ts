/**
 * Express adapter. The handler reads the raw body itself, so it must run before any body
 * parser: mount it on its route before `app.use(express.json())`, or give that route
 * `express.raw({ type: "*\/*" })` (a Buffer body is accepted). A body already parsed into an
 * object is reported to `next()` as ERR_WEBHOOK_BODY_CONSUMED, because the signed bytes are gone.
 */
import type { NextFunction, Request, Response } from "express";
import { WebhookBodyConsumedError } from "../errors.ts";
import { createIntake, splitAdapterOptions, type WebhookOptions } from "../intake.ts";
import { channelIdFromPath } from "../parse.ts";
import { LINE_PLATFORM, LINE_WORKS_PLATFORM, type WebhookPlatform } from "../platform.ts";
import { bodyDeadlines, handleNodeRequest, nodeDigest, nodeUtf8Decoder } from "./node.ts";

/** Options of {@link createExpressWebhookHandler}. */
export interface ExpressWebhookOptions extends WebhookOptions {
  /** Multi-channel mode: the channel (default `req.params.channelId`, else the last path segment). */
  channelIdFrom?: (req: Request) => string | null | undefined;
  /** Deadline for the whole body when this handler reads it, ms (default 10000): a slower body gets 408. */
  bodyTimeoutMs?: number;
}

/** An Express handler, with a way to wait for queued events. */
export interface ExpressWebhookHandler {
  (req: Request, res: Response, next: NextFunction): void;
  /**
   * The same intake for LINE WORKS bot callbacks (`X-WORKS-Signature`, the bot's secret from
   * `botSecretFor`), with the same raw-body rules: mount it at a route with a `:botId` parameter,
   * e.g. `app.post("/webhook/works/:botId", handler.works)`. Events go through the same queue or inbox.
   */
  works(req: Request, res: Response, next: NextFunction): void;
  drain(): Promise<void>;
  /** Stops the inbox's polling and lease extension (after drain, on shutdown); a no-op without an inbox. */
  close(): Promise<void>;
  readonly pending: number;
}

/**
 * Creates an Express route handler for LINE webhooks.
 *
 * @example
 * ```ts
 * import express from "express";
 * import { createExpressWebhookHandler } from "kagiya/webhook";
 * const app = express();
 * app.post("/webhook/:channelId", createExpressWebhookHandler({ secretFor, bot })); // before express.json()
 * app.use(express.json());
 * ```
 */
export function createExpressWebhookHandler(options: ExpressWebhookOptions): ExpressWebhookHandler {
  const { own, core } = splitAdapterOptions(options, ["channelIdFrom", "bodyTimeoutMs"]);
  const intake = createIntake(core, { decode: nodeUtf8Decoder, digest: nodeDigest });
  bodyDeadlines(intake, own.bodyTimeoutMs);
  const channelIdFrom = own.channelIdFrom;
  // The signed bytes must still be there: a Buffer from express.raw, or an unread stream.
  const handle = (req: Request, res: Response, next: NextFunction, id: string | null, platform: WebhookPlatform): void => {
    const body: unknown = req.body;
    if (Buffer.isBuffer(body)) return handleNodeRequest(intake, id, req, res, body, platform);
    if (body !== undefined || req.readableEnded) return next(new WebhookBodyConsumedError());
    handleNodeRequest(intake, id, req, res, undefined, platform);
  };
  const param = (req: Request, name: string): string | undefined => (req.params as Record<string, string | undefined> | undefined)?.[name];
  const handler = (req: Request, res: Response, next: NextFunction): void => {
    let channelId = intake.singleChannelId;
    if (channelId === null) {
      if (channelIdFrom !== undefined) channelId = channelIdFrom(req) ?? null;
      else {
        const p = param(req, "channelId");
        channelId = p !== undefined ? channelIdFromPath(p) : channelIdFromPath(req.path);
      }
    }
    handle(req, res, next, channelId, LINE_PLATFORM);
  };
  const works = (req: Request, res: Response, next: NextFunction): void => {
    const p = param(req, "botId");
    handle(req, res, next, p !== undefined ? channelIdFromPath(p) : channelIdFromPath(req.path), LINE_WORKS_PLATFORM);
  };
  return Object.defineProperties(handler, {
    works: { value: works },
    drain: { value: () => intake.drain() },
    close: { value: () => intake.close() },
    pending: { get: () => intake.pending },
  }) as ExpressWebhookHandler;
}
