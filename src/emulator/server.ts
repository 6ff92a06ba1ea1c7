// Request dispatch: routing, fault injection, X-Line-Request-Id, and a guarantee that no input
// can crash the process (every handler failure becomes a 500, the server keeps serving).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Emulator, Handler } from "./context.ts";
import { messageError, readBody, send, type Ctx } from "./http.ts";
import { newRequestId } from "./ids.ts";
import * as control from "./routes-control.ts";
import * as bulk from "./routes-bulk.ts";
import * as lineLogin from "./routes-login.ts";
import * as messaging from "./routes-messaging.ts";
import * as token from "./routes-token.ts";
import { isWorksPath, worksRoutes } from "./routes-works-control.ts";
import { worksFault } from "./routes-works-bot.ts";
import { deliverWebhook } from "./webhooks.ts";

const routes = new Map<string, Map<string, Handler>>();
function on(method: string, path: string, handler: Handler): void {
  let m = routes.get(path);
  if (!m) routes.set(path, (m = new Map()));
  m.set(method, handler);
}

on("POST", "/oauth2/v2.1/token", token.issueV21);
on("GET", "/oauth2/v2.1/tokens/kid", token.listKids);
on("GET", "/oauth2/v2.1/verify", token.verifyV21);
on("POST", "/oauth2/v2.1/revoke", token.revokeV21);
on("POST", "/oauth2/v3/token", token.issueStateless);
on("POST", "/v2/oauth/accessToken", token.issueShortLived);
on("POST", "/v2/oauth/verify", token.verifyShortLived);
on("POST", "/v2/oauth/revoke", token.revokeShortLived);
on("POST", "/v2/bot/message/reply", messaging.reply);
on("POST", "/v2/bot/message/push", messaging.push);
on("POST", "/__emulator/channels", control.createChannel);
on("GET", "/__emulator/channels", control.listChannels);
on("POST", "/__emulator/bulk/channels", bulk.createChannels);
on("POST", "/__emulator/bulk/ledgers", bulk.readLedgers);
on("GET", "/__emulator/clock", control.getClock);
on("POST", "/__emulator/clock", control.setClock);
on("POST", "/__emulator/faults", control.addFault);
on("GET", "/__emulator/faults", control.listFaults);
on("DELETE", "/__emulator/faults", control.clearFaults);
on("POST", "/__emulator/reset", control.reset);
on("GET", "/__emulator/messages", control.listMessages);
on("DELETE", "/__emulator/messages", control.clearMessages);
on("POST", "/__emulator/webhooks", deliverWebhook);
lineLogin.register(on, (method, path) => routes.get(path)?.get(method));

const CHANNEL_PATH = /^\/__emulator\/channels\/([^/]+)(?:\/(keys|tokens)(?:\/([^/]+))?)?$/;

/** Handlers for the parameterised control paths, or undefined when the path is unknown. */
function channelRoutes(path: string): Map<string, Handler> | undefined {
  const m = CHANNEL_PATH.exec(path);
  if (!m) return undefined;
  let id: string;
  let kid: string | undefined;
  try {
    id = decodeURIComponent(m[1]!);
    kid = m[3] === undefined ? undefined : decodeURIComponent(m[3]);
  } catch {
    return undefined; // a malformed escape in the path: 404 like any unknown path
  }
  const sub = m[2];
  if (sub === undefined) return new Map([["GET", control.getChannel(id)]]);
  if (sub === "tokens" && kid === undefined) return new Map([["GET", control.listTokens(id)]]);
  if (sub === "keys" && kid === undefined) return new Map([["POST", control.addKey(id)]]);
  if (sub === "keys" && kid !== undefined) return new Map([["DELETE", control.deleteKey(id, kid)]]);
  return undefined;
}

const FAULT_MESSAGES: Record<number, string> = {
  429: "The API rate limit has been exceeded. Try again later.",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** Builds the node:http request listener for one emulator. */
export function createListener(em: Emulator): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void handle(em, req, res).catch((error: unknown) => {
      // Aborted uploads and the like: answer if we still can, never let it escape.
      if (!res.headersSent && !res.destroyed) {
        try {
          messageError(ctxFor(em, req, res), 500, "Internal error in the emulator");
        } catch { /* the socket is gone */ }
      }
      if (process.env["KAGIYA_DEBUG"] === "1") process.stderr.write(`emulator: ${String((error as Error)?.stack ?? error)}\n`);
    });
  };
}

function ctxFor(em: Emulator, req: IncomingMessage, res: ServerResponse): Ctx {
  let url = req.url ?? "/";
  if (!url.startsWith("/")) {
    try {
      const u = new URL(url);
      url = u.pathname + u.search;
    } catch {
      url = "/";
    }
  }
  const q = url.indexOf("?");
  let body: Promise<Buffer | "too-large"> | undefined;
  return {
    req,
    res,
    method: req.method ?? "GET",
    path: q === -1 ? url : url.slice(0, q),
    query: q === -1 ? "" : url.slice(q + 1),
    requestId: newRequestId(),
    truncate: false,
    body: () => (body ??= readBody(req)),
    now: () => em.state.now(),
  };
}

async function handle(em: Emulator, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const ctx = ctxFor(em, req, res);
  if (em.faults.size > 0 && !ctx.path.startsWith("/__emulator/")) {
    const effect = em.faults.match(ctx.method, ctx.path);
    if (effect) {
      if (effect.delayMs) {
        // LINE works on a request it has fully received, whether or not the client is still
        // there for the answer: read it first, so a client giving up during the delay makes
        // "done at LINE, answer lost" rather than a request that never happened.
        await ctx.body();
        await new Promise((r) => setTimeout(r, effect.delayMs));
      }
      if (effect.reset) {
        req.socket.resetAndDestroy();
        return;
      }
      if (effect.truncate) ctx.truncate = true;
      if (effect.status !== undefined) {
        await ctx.body().catch(() => undefined);
        const headers: Record<string, string> = {};
        if (isWorksPath(ctx.path)) return worksFault(ctx, effect.status, effect.retryAfter);
        if (effect.retryAfter !== undefined) headers["retry-after"] = String(effect.retryAfter);
        messageError(ctx, effect.status, FAULT_MESSAGES[effect.status] ?? `Injected fault (HTTP ${effect.status})`, undefined, undefined, headers);
        return;
      }
    }
  }
  const methods = routes.get(ctx.path) ?? channelRoutes(ctx.path) ?? worksRoutes(ctx.path);
  if (!methods) {
    messageError(ctx, 404, "Not found");
    return;
  }
  const handler = methods.get(ctx.method);
  if (!handler) {
    send(ctx, 405, { message: "Method not allowed" }, { allow: [...methods.keys()].join(", ") });
    return;
  }
  await handler(ctx, em);
}
