/**
 * kagiya's server: the token broker, webhook intake, dashboard, audit and metrics behind
 * `kagiya serve`, for embedding in-process.
 *
 * @example
 * ```ts
 * import { startBroker } from "kagiya/server";
 * const server = await startBroker({ registry, port: 0 });
 * console.log(server.url);
 * await server.close();
 * ```
 *
 * @module
 */
export { startBroker, type BrokerOptions, type RunningBroker } from "./broker.ts";
export { startServer, type StartServerOptions, type RunningServer, type NodeWebhookHandler, type WebhookWiring } from "./server.ts";
export { createApiKey, revokeApiKey, hashApiKey, ApiKeyAuthenticator, API_KEY_PREFIX, type CreateApiKeyOptions, type ApiKeyAuthenticatorOptions } from "./apikeys.ts";
export { createAdminToken, AdminAuth, ADMIN_TOKEN_META, SESSION_COOKIE, type AdminSession, type AdminAuthOptions } from "./admin.ts";
export { ServerMetrics, type WebhookOutcome, type ChannelGaugeSource } from "./metrics.ts";
export { RateLimiter, type RateLimitOptions } from "./ratelimit.ts";
export { Scheduler, type SchedulerOptions, type SchedulerHooks } from "./scheduler.ts";
export { ServeWhileRefreshing, type ServeWhileRefreshingOptions } from "./serve-while-refreshing.ts";
export { createLogger, REDACT_PATHS, type LoggerOptions } from "./logger.ts";
export { HttpError, ServerConfigError, SERVER_ERROR_CODES } from "./errors.ts";
export type { TokenService, MaintenanceTarget, ActorOption } from "./types.ts";
