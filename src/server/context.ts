import type { Store, AuditRow } from "../store/types.ts";
import type { AdminAuth } from "./admin.ts";
import type { ApiKeyAuthenticator } from "./apikeys.ts";
import type { CounterHistory } from "./history.ts";
import type { Logger } from "./logger.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { RateLimiter } from "./ratelimit.ts";
import type { Scheduler } from "./scheduler.ts";
import type { TokenService } from "./types.ts";
import { KagiyaError } from "../core/errors.ts";
import { HttpError } from "./errors.ts";

/** Everything a route needs, built once by the server. */
export interface ServerContext {
  store: Store;
  tokens: TokenService;
  apiKeys: ApiKeyAuthenticator;
  limiter: RateLimiter;
  loginLimiter: RateLimiter;
  /** Token API requests with a bad API key, per client address: past it, 429 before any store read. */
  authFailureLimiter: RateLimiter;
  /** Web login requests (`/oauth/{name}/start`, `/callback`) per client address. */
  oauthLimiter: RateLimiter;
  admin: AdminAuth;
  metrics: ServerMetrics;
  /** The last hour of the webhook and token API counters, for the dashboard's charts. */
  activity: { webhooks: CounterHistory; tokenApi: CounterHistory };
  log: Logger;
  scheduler: Scheduler | null;
  now: () => number;
  /** Adds `Secure` to the session cookie (set when served over HTTPS). */
  secureCookies: boolean;
  /** Largest JSON body the dashboard API reads, bytes. */
  jsonLimit: number;
  /** Whole-body deadline, ms. */
  bodyTimeoutMs: number;
  /** Writes an audit row; failures are logged, never thrown at the caller. */
  audit(row: Omit<AuditRow, "at" | "id"> & { at?: number }): Promise<void>;
}

/**
 * Turns an error from the token lifecycle or the store into the HTTP answer callers see.
 * Messages of kagiya's errors are written to be shown and never hold a secret.
 */
export function toHttpError(error: unknown, now: number): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof KagiyaError) {
    switch (error.code) {
      case "ERR_TOKEN_UNAVAILABLE": {
        const retryAt = (error as { retryAt?: unknown }).retryAt;
        const seconds = typeof retryAt === "number" ? Math.max(1, Math.ceil((retryAt - now) / 1000)) : 5;
        return new HttpError(503, error.code, error.message, { headers: { "retry-after": String(seconds) } });
      }
      case "ERR_TOKEN_BUDGET_EXHAUSTED":
      case "ERR_OAUTH_REAUTH_REQUIRED":
        return new HttpError(409, error.code, error.message);
      case "ERR_CHANNEL_NOT_FOUND":
      case "ERR_TOKEN_NOT_FOUND":
        return new HttpError(404, error.code, error.message);
      case "ERR_INVALID_INPUT":
      case "ERR_CHANNEL_ID_INVALID":
        return new HttpError(400, error.code, error.message);
      case "ERR_STORE":
      case "ERR_STORE_UNAVAILABLE":
        return new HttpError(503, "ERR_UNAVAILABLE", "the store is unreachable; try again shortly", { headers: { "retry-after": "5" } });
      case "ERR_STORE_FULL":
        return new HttpError(503, "ERR_UNAVAILABLE", "the store's disk is full; try again shortly", { headers: { "retry-after": "5" } });
      default:
        if (error.code.startsWith("ERR_LINE") || error.code.startsWith("ERR_OAUTH")) return new HttpError(502, error.code, error.message);
    }
  }
  return new HttpError(500, "ERR_INTERNAL", "internal error; the server log has details");
}
