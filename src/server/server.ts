import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { KeyObject } from "node:crypto";
import type { AddressInfo, Socket } from "node:net";
import type { AuditRow, Store } from "../store/types.ts";
import { AdminAuth } from "./admin.ts";
import { ApiKeyAuthenticator } from "./apikeys.ts";
import { toHttpError, type ServerContext } from "./context.ts";
import { mountDashboard } from "./dashboard.ts";
import { HttpError, ServerConfigError } from "./errors.ts";
import { sendError, sendJson } from "./http.ts";
import { createLogger, type Logger, type LoggerOptions } from "./logger.ts";
import { ServerMetrics } from "./metrics.ts";
import { CounterHistory } from "./history.ts";
import { RateLimiter, type RateLimitOptions } from "./ratelimit.ts";
import { Router } from "./router.ts";
import { Scheduler, type SchedulerOptions } from "./scheduler.ts";
import { mountTokenApi } from "./token-api.ts";
import { mountOAuthWeb, type OAuthWebOptions } from "./oauth-web.ts";
import type { MaintenanceTarget, TokenService } from "./types.ts";
import { isLineWebhookPath, mountWebhooks } from "./webhook-routes.ts";

/** A node:http webhook handler, as the webhook module's node adapter makes. */
export type NodeWebhookHandler = ((req: IncomingMessage, res: ServerResponse) => unknown) & {
  /** LINE WORKS bot callbacks through the same intake, mounted at POST /webhook/works/{botId}. */
  works?(req: IncomingMessage, res: ServerResponse): unknown;
  drain?(): Promise<void>;
  close?(): Promise<void>;
};

/**
 * What the server gives the webhook factory (fits the webhook module's options): the store's
 * durable inbox (or, for `--inbox memory`, de-duplication through its markOnce), hooks for audit
 * and metrics, and the server's logger.
 */
export interface WebhookWiring {
  dedup: { markOnce(key: string, ttlMs: number): Promise<boolean>; markMany(keys: readonly string[], ttlMs: number): Promise<boolean[]> };
  /** The store, as the webhook inbox. */
  inbox: Store;
  onReject(info: { channelId: string | null; status: number; code: string; platform?: "line-works" }): void;
  onAccept(info: { channelId: string; events: number; platform?: "line-works" }): void;
  logger: Logger;
  /** The server's body deadline (bodyTimeoutMs), for the webhook body too. */
  bodyTimeoutMs: number;
}

/** Options of {@link startServer}. Durations in ms; unset fields take the defaults shown. */
export interface StartServerOptions {
  /** The store (already migrated). */
  store: Store;
  /** The token lifecycle; with `maintain`, the background scheduler runs it. */
  tokens: TokenService & Partial<MaintenanceTarget>;
  /** Builds the webhook handler mounted at POST /webhook/{channelId} (none: 404). */
  webhook?: (wiring: WebhookWiring) => NodeWebhookHandler;
  /** TCP port (default 0: a free port). */
  port?: number;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** An admin token for the dashboard besides the stored one (KAGIYA_ADMIN_TOKEN, at least 24 characters). */
  adminToken?: string | undefined;
  /**
   * Signs dashboard session cookies. Instances given the same key accept each other's sessions
   * (startBroker derives it from the master key); default a random key per process.
   */
  sessionKey?: KeyObject;
  /** Per-API-key rate limit (default 50/s, burst 100). */
  rateLimit?: RateLimitOptions;
  /**
   * Token API requests with a bad API key per client address (default 5/s, burst 50); past it, 429
   * without a store read, so a flood of made-up keys cannot load the store.
   */
  authFailureLimit?: RateLimitOptions;
  /** `/oauth/{name}/start` and `/callback` requests per client address (default 60 a minute, bursts of 60); past it 429. */
  oauthRateLimit?: RateLimitOptions;
  /** How long an API key lookup is trusted (default 2000): revocations apply within this. */
  apiKeyCacheMs?: number;
  /**
   * While the store fails, how long after its last good lookup an API key keeps working (default
   * 300000 = 5 min; 0 for never). Once the store answers again, a revocation applies within 1 s.
   */
  apiKeyStaleIfErrorMs?: number;
  /** Scheduler options, or false for none (default on when `tokens.maintain` exists). */
  scheduler?: SchedulerOptions | false;
  /** A logger, or options for the default pino logger. */
  log?: Logger | LoggerOptions;
  /** Metrics registry (default a new one); give the same one to the TokenManager's observer. */
  metrics?: ServerMetrics;
  /** Adds `Secure` to the session cookie (set when TLS terminates in front). */
  secureCookies?: boolean;
  /** Largest JSON body of the dashboard API (default 65536 bytes). */
  jsonLimit?: number;
  /** Deadline for a request body (default 10000). */
  bodyTimeoutMs?: number;
  /** How long close() waits for in-flight requests before cutting them (default 10000). */
  drainTimeoutMs?: number;
  /** Called last by close() (e.g. to close a store the caller opened for the server). */
  onClose?: () => Promise<void> | void;
  now?: () => number;
  /** How often the dashboard's activity charts sample the counters, ms (default 60000: one bar a minute). */
  activitySampleMs?: number;
  /** OAuth 2.0 web login and grant API (`/oauth/{name}/…`, `/v1/grants/{id}/token`, `/ui/api/grants`); none: not mounted. */
  oauth?: OAuthWebOptions;
}

/** A running server. */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  port: number;
  server: Server;
  metrics: ServerMetrics;
  /** The last hour of the webhook and token API counters (the dashboard's charts). */
  activity: ServerContext["activity"];
  scheduler: Scheduler | null;
  log: Logger;
  /** Resolves once every accepted webhook event has been handled (tests, shutdown). */
  drainWebhooks(): Promise<void>;
  /** Drains in-flight requests, stops the scheduler, drains webhook events, then calls onClose. */
  close(): Promise<void>;
}

/**
 * Starts kagiya's HTTP server (token API, webhook intake, dashboard, health, metrics) on
 * node:http with a small router. For tests it listens on a free port in-process.
 *
 * @example
 * ```ts
 * const server = await startServer({ store, tokens: manager });
 * const res = await fetch(`${server.url}/v1/channels/1234567890/token`, { headers: { authorization: `Bearer ${key}` } });
 * await server.close();
 * ```
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const { store, tokens } = options;
  const now = options.now ?? Date.now;
  const log: Logger = isLogger(options.log) ? options.log : createLogger(options.log);
  const metrics = options.metrics ?? new ServerMetrics();
  const router = new Router();

  const audit = async (row: Omit<AuditRow, "at" | "id"> & { at?: number }): Promise<void> => {
    try {
      await store.appendAudit({ ...row, at: row.at ?? now() });
    } catch (error) {
      log.error({ action: row.action, err: errorFields(error) }, "could not write the audit log");
    }
  };

  let scheduler: Scheduler | null = null;
  if (options.scheduler !== false && typeof tokens.maintain === "function" && typeof tokens.reconcile === "function") {
    scheduler = new Scheduler(store, tokens as MaintenanceTarget, { now, ...(options.scheduler || {}) }, {
      log,
      onRun: (outcome) => metrics.schedulerRuns.inc({ outcome }),
    });
  }

  const ctx: ServerContext = {
    store,
    tokens,
    apiKeys: new ApiKeyAuthenticator(store, { cacheMs: options.apiKeyCacheMs ?? 2000, staleIfErrorMs: options.apiKeyStaleIfErrorMs ?? 300_000, now }),
    limiter: new RateLimiter({ perSecond: 50, burst: 100, ...options.rateLimit, now }),
    loginLimiter: new RateLimiter({ perSecond: 0.5, burst: 10, now }),
    authFailureLimiter: new RateLimiter({ perSecond: 5, burst: 50, ...options.authFailureLimit, now }),
    oauthLimiter: new RateLimiter({ perSecond: 1, burst: 60, ...options.oauthRateLimit, now }),
    admin: new AdminAuth(store, { envToken: options.adminToken, now, ...(options.sessionKey ? { sessionKey: options.sessionKey } : {}) }),
    metrics,
    activity: { webhooks: new CounterHistory(metrics.webhooks, { now }), tokenApi: new CounterHistory(metrics.tokenApi, { now }) },
    log,
    scheduler,
    now,
    secureCookies: options.secureCookies ?? false,
    jsonLimit: options.jsonLimit ?? 65_536,
    bodyTimeoutMs: options.bodyTimeoutMs ?? 10_000,
    audit,
  };

  metrics.setChannelSource({
    async channelGauges() {
      const rows = await store.listChannels();
      const at = now();
      return Promise.all(rows.map(async (row) => {
        const described = { kind: row.kind, scope: typeof row.settings["scope"] === "string" ? row.settings["scope"] : "" };
        try {
          const s = await tokens.status(row.channelId);
          const current = s.tokens.filter((t) => t.state === "valid").sort((a, b) => b.expiresAt - a.expiresAt)[0];
          return {
            channelId: row.channelId,
            ...described,
            secondsToExpiry: current ? Math.max(0, (current.expiresAt - at) / 1000) : null,
            budgetLeft: s.budgetLimit === null ? null : s.budgetLimit - s.budgetUsed,
            lastRefreshAt: s.lastRefreshAt,
            lastError: s.lastError === null ? null : { at: s.lastError.at, code: s.lastError.code },
          };
        } catch {
          return { channelId: row.channelId, ...described, secondsToExpiry: null, budgetLeft: 0 };
        }
      }));
    },
  });

  // --- operations ---
  router.add("GET", "/healthz", ({ res }) => sendJson(res, 200, { status: "ok" }));
  router.add("GET", "/readyz", async ({ res }) => {
    let storeOk = true;
    try {
      await withTimeout(store.ping(), 2000);
    } catch {
      storeOk = false;
    }
    // Ready once the scheduler has planned every channel from the store (start-up reads, never waits on LINE).
    const schedulerOk = scheduler === null || (scheduler.alive && scheduler.ready);
    const schedulerState = scheduler === null ? "off" : !scheduler.alive ? "stopped" : scheduler.ready ? "ok" : "starting";
    const body = { status: storeOk && schedulerOk ? "ok" : "unavailable", store: storeOk ? "ok" : "unreachable", scheduler: schedulerState };
    sendJson(res, storeOk && schedulerOk ? 200 : 503, body);
  });
  router.add("GET", "/metrics", async ({ res }) => {
    const { contentType, body } = await metrics.render();
    res.writeHead(200, { "content-type": contentType, "cache-control": "no-store", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });

  // --- token API ---
  mountTokenApi(router, ctx);

  // --- webhook intake (POST /webhook/{channelId} is also taken by dispatch before the router) ---
  const webhook = options.webhook ? mountWebhooks(router, ctx, options.webhook) : null;

  // --- OAuth web login and grants (before the dashboard's /ui/* files) ---
  if (options.oauth) mountOAuthWeb(router, ctx, options.oauth);

  // --- dashboard (after the hot routes: the router tries routes in order) ---
  mountDashboard(router, ctx);

  // --- dispatch ---
  const accessLog = log.isLevelEnabled("debug");
  let active = 0;
  let idle: (() => void) | null = null;
  // One listener for every response (a response closes once): no closure per request.
  const closed = (): void => {
    if (--active === 0 && idle !== null) idle();
  };
  const dispatch = (req: IncomingMessage, res: ServerResponse): void => {
    active++;
    res.on("close", closed);
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q === -1 ? url : url.slice(0, q);
    if (accessLog) {
      const started = performance.now();
      // Method, path and status only: no headers, no query, no body.
      res.once("finish", () => log.debug({ method: req.method, path: path.slice(0, 200), status: res.statusCode, ms: Math.round((performance.now() - started) * 10) / 10 }, "request"));
    }
    // LINE's deliveries are the server's hottest requests: a well-formed webhook URL goes straight
    // to its handler, without the router's match, context and promise (the route stays in the
    // router for every other method and shape of URL: 405, 404).
    if (webhook !== null && req.method === "POST" && isLineWebhookPath(path)) {
      try {
        webhook(req, res);
      } catch (error) {
        fail(req, res, path, error);
      }
      return;
    }
    const match = router.match(req.method ?? "GET", path);
    if (match.kind !== "found") {
      req.resume();
      if (match.kind === "method") {
        sendError(res, new HttpError(405, "ERR_METHOD_NOT_ALLOWED", `${req.method} is not allowed here; use ${match.allowed.join(" or ")}`, { headers: { allow: match.allowed.join(", ") } }));
      } else sendError(res, new HttpError(404, "ERR_NOT_FOUND", `no route for ${req.method} ${path.slice(0, 200)}`));
      return;
    }
    try {
      const out = match.handler({ req, res, params: match.params, path, query: q === -1 ? "" : url.slice(q + 1) });
      if (out !== undefined) out.catch((error: unknown) => fail(req, res, path, error));
    } catch (error) {
      fail(req, res, path, error);
    }
  };
  const fail = (req: IncomingMessage, res: ServerResponse, path: string, error: unknown): void => {
    if (!(error instanceof HttpError)) log.error({ method: req.method, path: path.slice(0, 200), err: errorFields(error) }, "request failed");
    const http = toHttpError(error, now());
    if (http.status === 408 || http.status === 413) res.shouldKeepAlive = false;
    sendError(res, http);
  };

  const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000, maxHeaderSize: 16_384 }, dispatch);
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || error.code === "ECONNRESET") {
      socket.destroy();
      return;
    }
    const [status, reason, code, message] = error.code === "HPE_HEADER_OVERFLOW"
      ? [431, "Request Header Fields Too Large", "ERR_HEADERS_TOO_LARGE", "the request headers are larger than 16 KiB"]
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "Request Timeout", "ERR_BODY_TIMEOUT", "the request did not arrive in full in time"]
        : [400, "Bad Request", "ERR_BAD_REQUEST", "the request is not valid HTTP"];
    const body = JSON.stringify({ error: code, message });
    socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });

  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ServerConfigError(`port must be an integer from 0 to 65535, not ${port}`);
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(error.code === "EADDRINUSE"
        ? new ServerConfigError(`port ${port} on ${host} is in use (choose another with --port)`, { cause: error })
        : new ServerConfigError(`cannot listen on ${host}:${port}: ${error.message}`, { cause: error })));
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${shownHost}:${address.port}`;
  scheduler?.start();
  const sampleActivity = (): void => void Promise.all([ctx.activity.webhooks.sample(), ctx.activity.tokenApi.sample()]);
  sampleActivity();
  const activityTimer = setInterval(sampleActivity, options.activitySampleMs ?? 60_000);
  activityTimer.unref();
  log.info({ url, store: store.kind, scheduler: scheduler !== null }, "kagiya serve listening");

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      log.info({}, "shutting down: draining requests");
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (active > 0) {
        await Promise.race([
          new Promise<void>((resolve) => (idle = resolve)),
          new Promise<void>((resolve) => setTimeout(resolve, options.drainTimeoutMs ?? 10_000).unref()),
        ]);
      }
      server.closeAllConnections();
      await stopped;
      clearInterval(activityTimer);
      await scheduler?.stop();
      await webhook?.drain?.();
      await webhook?.close?.();
      await options.onClose?.();
      log.info({}, "stopped");
    })();
    return closing;
  };

  const drainWebhooks = async (): Promise<void> => {
    await webhook?.drain?.();
  };
  return { url, port: address.port, server, metrics, activity: ctx.activity, scheduler, log, drainWebhooks, close };
}

function isLogger(value: unknown): value is Logger {
  return typeof value === "object" && value !== null && typeof (value as Logger).info === "function" && typeof (value as Logger).child === "function";
}

/** Name, code and a bounded message: enough to debug, never a dump of request data. */
export function errorFields(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, ...(typeof code === "string" ? { code } : {}), message: error.message.slice(0, 300) };
  }
  return { message: String(error).slice(0, 300) };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("timeout")), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e: unknown) => { clearTimeout(t); reject(e); });
  });
}
