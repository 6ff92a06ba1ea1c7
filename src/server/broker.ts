import type { ChannelRegistry } from "../store/registry.ts";
import type { Store } from "../store/types.ts";
import { TokenManager } from "../tokens/manager.ts";
import { createNodeWebhookListener } from "../webhook/adapters/node.ts";
import type { EventDispatcher } from "../webhook/intake.ts";
import { createExampleBot } from "../webhook/example-bot.ts";
import { createLineClient } from "../clients/line/index.ts";
import { createWorksClient } from "../clients/works/index.ts";
import { WorksBotDirectory } from "./works-bots.ts";
import { isLineChannelKind } from "../store/credential-input.ts";
import { CHANNEL_ID_PATTERN } from "./apikeys.ts";
import { createLogger, type Logger, type LoggerOptions } from "./logger.ts";
import { ServerMetrics } from "./metrics.ts";
import { startServer, type RunningServer, type StartServerOptions } from "./server.ts";
import type { MaintenanceTarget, TokenService } from "./types.ts";
import { ServeWhileRefreshing } from "./serve-while-refreshing.ts";
import { IssuePermits } from "./issue-rate.ts";
import { lineTokenApi } from "../tokens/line.ts";
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
  /** LINE WORKS API origin, for bot messages (default KAGIYA_WORKS_API_BASE, else https://www.worksapis.com). */
  worksApiBase?: string | undefined;
  /** A TokenManager to use instead of building one (tests inject clocks this way). */
  manager?: TokenManager;
  /**
   * Webhook event handlers: a bot, a function building one from the manager, or "example" for
   * the built-in bot that replies "こんにちは!" to every text message, on LINE and on LINE WORKS
   * (default: "example"). LINE WORKS callbacks arrive at /webhook/works/{botId}.
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
   * Token issuances per second and per upstream across every instance sharing the store
   * (`--max-issue-rate`, default 5): LINE's channel token API, LINE WORKS' auth server and each
   * OAuth provider's token endpoint have this many each (each counts, and answers 429 to, only its
   * own). Warm-ups, refreshes and issuances a token read starts alike, each taking a permit right
   * before the upstream is asked. Not applied to a given `manager`.
   */
  maxIssueRate?: number;
  /** TTL of the store lock held while issuing, ms (default 30000): how soon another instance takes over from one that died. */
  lockTtlMs?: number;
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
  const { registry, lineApiBase, worksAuthBase, worksApiBase, manager: given, bot, webhookDedupTtlMs, inbox, inboxLeaseMs, log: logOption, maxIssueRate, lockTtlMs, perChannelMetrics, oauthOrigins: givenOrigins, oauthFetch, ...serverOptions } = options;
  const oauthOrigins = givenOrigins ?? presetOriginsFromEnv(process.env);
  const store = registry.store;
  const log = logOption !== undefined && typeof (logOption as Logger).child === "function" ? (logOption as Logger) : createLogger(logOption as LoggerOptions | undefined);
  const metrics = new ServerMetrics({ perChannel: perChannelMetrics });
  const now = serverOptions.now ?? Date.now;
  const permits = new IssuePermits(store, { ...(maxIssueRate !== undefined ? { perSecond: maxIssueRate } : {}), now });
  const manager = given ?? new TokenManager({
    registry,
    // LINE's client on the server's clock (an injected `now` reaches the assertions too).
    line: lineTokenApi({ ...(lineApiBase !== undefined ? { baseUrl: lineApiBase } : {}), now }),
    // Every issuance (LINE, LINE WORKS, OAuth) waits for a permit of its upstream's own limit right before it is sent.
    issuePermit: permits.take,
    ...(worksAuthBase !== undefined ? { worksAuthBase } : {}),
    ...(lockTtlMs !== undefined ? { lockTtlMs } : {}),
    oauthOrigins,
    ...(oauthFetch ? { oauthFetch } : {}),
    observer: metrics.observer,
    actor: "server",
    ...(serverOptions.now ? { now: serverOptions.now } : {}),
  });
  // Reads (token API and the bot) never wait on LINE while a valid token is known.
  const reads = new ServeWhileRefreshing(manager, serverOptions.now ? { now: serverOptions.now } : {});
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
      // Warm channels that have no token yet, so the first read does not wait on LINE either. A
      // valid stored token is kept; issuing waits for a permit (in the LINE client above).
      const plan = await manager.plan(channelId);
      const warm = plan.refreshAt === null && plan.retryAt === null;
      if (warm) {
        try {
          await manager.get(channelId);
          // A first token and nothing else to do (no superseded token waiting): plan by it, without
          // the rest of maintenance (a third of a cold start's store calls).
          if (plan.revokeDueAt === null) {
            const fresh = await manager.plan(channelId);
            if (fresh.nextAt !== null) return fresh.nextAt;
          }
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
      if (report.nextAt !== null) return report.nextAt;
      // No token to plan by: the first one could not be had (or was revoked meanwhile). Try again
      // once the backoff ends, not at the scheduler's long idle check.
      const after = await manager.plan(channelId);
      return after.nextAt ?? Math.max(after.retryAt ?? 0, now() + 5000);
    },
    async dueMany(channelIds) {
      // Start-up: one bulk read says when each channel is due; a channel without a token is due now (warm).
      const plans = await manager.planMany(channelIds);
      return new Map([...plans].map(([id, p]) => [id, p.refreshAt === null ? null : p.nextAt]));
    },
  };
  const worksBots = new WorksBotDirectory(registry, { now, log });
  const dispatcher = bot === false
    ? undefined
    : bot === undefined || bot === "example"
      ? createExampleBot({
        tokens: reads,
        line: createLineClient(lineApiBase !== undefined ? { baseUrl: lineApiBase } : {}),
        works: { client: createWorksClient(worksApiBase !== undefined ? { apiBaseUrl: worksApiBase } : {}), credentialFor: (botId) => worksBots.credentialFor(botId) },
        logger: log,
      })
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
      // LINE WORKS callbacks are signed with the Bot Secret of the app that owns the bot.
      botSecretFor: (botId) => worksBots.secretFor(botId),
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
