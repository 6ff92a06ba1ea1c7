import type { ChannelRegistry } from "../store/registry.ts";
import type { Store } from "../store/types.ts";
import { TokenManager } from "../tokens/manager.ts";
import { createNodeWebhookListener } from "../webhook/adapters/node.ts";
import type { EventDispatcher } from "../webhook/intake.ts";
import { createExampleBot } from "../webhook/example-bot.ts";
import { createLineClient } from "../clients/line/index.ts";
import { isLineChannelKind } from "../store/registry.ts";
import { CHANNEL_ID_PATTERN } from "./apikeys.ts";
import { createLogger, type Logger, type LoggerOptions } from "./logger.ts";
import { ServerMetrics } from "./metrics.ts";
import { startServer, type RunningServer, type StartServerOptions } from "./server.ts";
import type { MaintenanceTarget, TokenService } from "./types.ts";
import { ServeWhileRefreshing } from "./serve-while-refreshing.ts";
import { IssueRateLimiter } from "./issue-rate.ts";
import { presetOriginsFromEnv } from "../kinds/oauth2/registration.ts";

/** HKDF info for the dashboard session key derived from the master key. */
const ADMIN_SESSION_KEY_PURPOSE = "kagiya/admin-session/v1";

/** Options of {@link startBroker}: the server's, with the pieces it builds from the registry. */
export interface BrokerOptions extends Omit<StartServerOptions, "tokens" | "webhook" | "store" | "log" | "metrics"> {
  /** The channel registry (its store is the server's store). */
  registry: ChannelRegistry;
  /** LINE API origin (default KAGIYA_LINE_API_BASE, else https://api.line.me). */
  lineApiBase?: string | undefined;
  /** LINE WORKS auth origin (default KAGIYA_WORKS_AUTH_BASE, else https://auth.worksmobile.com). */
  worksAuthBase?: string | undefined;
  /** A TokenManager to use instead of building one (tests inject clocks this way). */
  manager?: TokenManager;
  /**
   * Webhook event handlers: a bot, a function building one from the manager, or "example" for
   * the built-in bot that replies "こんにちは!" to every text message (default: "example").
   * `false`: events are accepted and dropped.
   */
  bot?: EventDispatcher | ((manager: TokenManager) => EventDispatcher) | "example" | false;
  /** How long a webhook event ID is remembered in the store for de-duplication (default 24 h). */
  webhookDedupTtlMs?: number;
  /**
   * Where accepted webhook events wait for their handlers: "store" (default) writes them to the
   * store's inbox before the 200, so a crash loses none; "memory" keeps them in process memory
   * (faster; events not yet handled are lost if the process dies).
   */
  inbox?: "store" | "memory";
  /** How long a claimed inbox event is reserved for one instance, ms (default 30000). */
  inboxLeaseMs?: number;
  /** A logger, or options for the default pino logger. */
  log?: Logger | LoggerOptions;
  /**
   * Issuances per second the scheduler's warm-ups and refreshes may make, across every instance
   * sharing the store (`--max-issue-rate`, default 5). Token reads that find no token still issue.
   */
  maxIssueRate?: number;
  /**
   * `/metrics` series per channel: true always, false never, undefined (default) while the
   * scheduler plans at most 200 channels (`--per-channel-metrics`).
   */
  perChannelMetrics?: boolean | undefined;
  /** OAuth presets' production origins → replacements (default from KAGIYA_LINE_LOGIN_BASE, KAGIYA_LINE_API_BASE, KAGIYA_WORKS_AUTH_BASE). */
  oauthOrigins?: Readonly<Record<string, string>>;
  /** fetch for OAuth providers' endpoints (default the global one; tests route through proxies with it). */
  oauthFetch?: typeof fetch;
}

/** A running broker: the server plus the TokenManager it serves from. */
export interface RunningBroker extends RunningServer {
  manager: TokenManager;
  store: Store;
}

/**
 * Starts the full `kagiya serve` stack on an open registry: a TokenManager over the registry
 * (metrics wired through its observer), the background scheduler driving its maintain/plan,
 * webhook intake through the store's durable inbox (or in memory with `inbox: "memory"`) with
 * channel secrets from the registry, and
 * the HTTP server. `kagiya serve` calls this; tests call it in-process on a free port.
 *
 * @example
 * ```ts
 * const registry = await ChannelRegistry.open(store, loadSealer(process.env));
 * const broker = await startBroker({ registry, lineApiBase: emulator.url });
 * console.log(broker.url);
 * await broker.close();
 * ```
 */
export async function startBroker(options: BrokerOptions): Promise<RunningBroker> {
  const { registry, lineApiBase, worksAuthBase, manager: given, bot, webhookDedupTtlMs, inbox, inboxLeaseMs, log: logOption, maxIssueRate, perChannelMetrics, oauthOrigins: givenOrigins, oauthFetch, ...serverOptions } = options;
  const oauthOrigins = givenOrigins ?? presetOriginsFromEnv(process.env);
  const store = registry.store;
  const log = logOption !== undefined && typeof (logOption as Logger).child === "function" ? (logOption as Logger) : createLogger(logOption as LoggerOptions | undefined);
  const metrics = new ServerMetrics({ perChannel: perChannelMetrics });
  const manager = given ?? new TokenManager({
    registry,
    // The manager builds its LINE client on its own clock, so an injected `now` reaches the assertions too.
    ...(lineApiBase !== undefined ? { lineApiBase } : {}),
    ...(worksAuthBase !== undefined ? { worksAuthBase } : {}),
    oauthOrigins,
    ...(oauthFetch ? { oauthFetch } : {}),
    observer: metrics.observer,
    actor: "server",
    ...(serverOptions.now ? { now: serverOptions.now } : {}),
  });
  // Reads (token API and the bot) never wait on LINE while a valid token is known.
  const reads = new ServeWhileRefreshing(manager, serverOptions.now ? { now: serverOptions.now } : {});
  const now = serverOptions.now ?? Date.now;
  const issueRate = new IssueRateLimiter(store, { ...(maxIssueRate !== undefined ? { perSecond: maxIssueRate } : {}), now });
  const tokens: TokenService & MaintenanceTarget = {
    get: (channelId) => reads.get(channelId),
    peek: (channelId) => reads.peek(channelId),
    invalidate: (channelId, keyId) => reads.invalidate(channelId, keyId),
    issue: (channelId, o) => {
      reads.forget(channelId);
      return manager.issue(channelId, o);
    },
    revoke: async (channelId, keyId, o) => {
      reads.forget(channelId);
      try {
        return await manager.revoke(channelId, keyId, o);
      } finally {
        reads.forget(channelId);
      }
    },
    reconcile: (channelId, o) => manager.reconcile(channelId, o),
    status: (channelId) => manager.status(channelId),
    async maintain(channelId) {
      // Warm channels that have no token yet, so the first read does not wait on LINE either.
      // Start-up only reads: a valid stored token is kept, and issuing waits for a permit.
      const plan = await manager.plan(channelId);
      const at = now();
      const warm = plan.refreshAt === null && plan.retryAt === null;
      const refresh = plan.refreshAt !== null && Math.max(plan.refreshAt, plan.retryAt ?? 0) <= at;
      // No permit now: everything due waits (revocations by a second or two). The retry lands at a
      // random point of a later second, so waiting channels do not lock onto the slots they missed.
      if ((warm || refresh) && !(await issueRate.tryTake())) return issueRate.nextSlotAt() + 1000 + Math.floor(Math.random() * 1000);
      if (warm) {
        try {
          await manager.get(channelId);
        } catch (error) {
          const code = (error as { code?: string }).code;
          // An OAuth grant nobody has logged in to yet (or that needs a new login) is no fault of the server.
          if (code === "ERR_OAUTH_REAUTH_REQUIRED") log.debug({ channelId, code }, "the credential waits for a login");
          else log.warn({ channelId, code }, "could not warm the channel's first token");
        }
      }
      const report = await manager.maintainChannel(channelId, { actor: "scheduler" });
      if (report.error) log.warn({ channelId, code: report.error.code, message: report.error.message }, "token maintenance reported an error");
      else if (report.refreshed || report.revoked.length > 0) log.info({ channelId, refreshed: report.refreshed, revoked: report.revoked }, "token maintenance");
      return report.nextAt;
    },
  };
  const dispatcher = bot === false
    ? undefined
    : bot === undefined || bot === "example"
      ? createExampleBot({ tokens: reads, line: createLineClient(lineApiBase !== undefined ? { baseUrl: lineApiBase } : {}), logger: log })
      : typeof bot === "function" ? bot(manager) : bot;
  const server = await startServer({
    // Every instance holds the master key, so a session started on one is good on all of them.
    sessionKey: registry.sealer.current.deriveKey(ADMIN_SESSION_KEY_PURPOSE),
    ...serverOptions,
    store,
    tokens,
    log,
    metrics,
    oauth: { registry, tokens: manager, origins: { ...oauthOrigins }, ...(oauthFetch ? { fetch: oauthFetch } : {}) },
    webhook: (wiring) => createNodeWebhookListener({
      // LINE's webhooks are signed with a LINE channel's secret; other kinds' IDs get no secret here.
      secretFor: async (channelId) => {
        if (!CHANNEL_ID_PATTERN.test(channelId)) return null;
        const ch = await registry.get(channelId);
        return ch !== null && isLineChannelKind(ch.kind) ? ch.channelSecret : null;
      },
      ...(inbox === "memory" ? { dedup: wiring.dedup } : { inbox: wiring.inbox, ...(inboxLeaseMs !== undefined ? { inboxLeaseMs } : {}) }),
      ...(webhookDedupTtlMs !== undefined ? { dedupTtlMs: webhookDedupTtlMs } : {}),
      onReject: wiring.onReject,
      onAccept: wiring.onAccept,
      logger: wiring.logger,
      bodyTimeoutMs: wiring.bodyTimeoutMs,
      // The secret cache follows the server's clock, like the token manager.
      ...(serverOptions.now ? { now: serverOptions.now } : {}),
      ...(dispatcher ? { bot: dispatcher } : {}),
    }),
  });
  const scheduler = server.scheduler;
  if (scheduler !== null) metrics.setChannelCount(() => scheduler.size);
  return { ...server, manager, store };
}
