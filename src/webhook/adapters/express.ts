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
  const handler = (req: Request, res: Response, next: NextFunction): void => {
    let channelId = intake.singleChannelId;
    if (channelId === null) {
      if (channelIdFrom !== undefined) channelId = channelIdFrom(req) ?? null;
      else {
        const p = (req.params as Record<string, string | undefined> | undefined)?.["channelId"];
        channelId = p !== undefined ? channelIdFromPath(p) : channelIdFromPath(req.path);
      }
    }
    const body: unknown = req.body;
    if (Buffer.isBuffer(body)) return handleNodeRequest(intake, channelId, req, res, body);
    if (body !== undefined || req.readableEnded) return next(new WebhookBodyConsumedError());
    handleNodeRequest(intake, channelId, req, res);
  };
  return Object.defineProperties(handler, {
    drain: { value: () => intake.drain() },
    close: { value: () => intake.close() },
    pending: { get: () => intake.pending },
  }) as ExpressWebhookHandler;
}
