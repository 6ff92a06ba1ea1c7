/**
 * Options of the LINE WORKS client, resolved once into a frozen object. Every default, with its
 * unit, is here and nowhere else; the transport settings (timeouts, retry) are checked by the LINE
 * client's resolver, so both clients mean the same thing by them.
 */
import { InvalidInputError } from "../../core/errors.ts";
import { WORKS_ASSERTION_EXPIRES_IN_MAX } from "../../core/jwt/works-rules.ts";
import { LINE_CLIENT_DEFAULTS, parseBaseUrl, resolveLineConfig, type LineAttemptInfo, type LineClientOptions, type ResolvedLineConfig } from "../line/options.ts";

/** Default auth server; `KAGIYA_WORKS_AUTH_BASE` or `authBaseUrl` override it (e.g. the emulator). */
export const DEFAULT_WORKS_AUTH_BASE = "https://auth.worksmobile.com";
/** Default API origin; `KAGIYA_WORKS_API_BASE` or `apiBaseUrl` override it. */
export const DEFAULT_WORKS_API_BASE = "https://www.worksapis.com";

/**
 * Defaults, with units: the LINE client's transport defaults ({@link LINE_CLIENT_DEFAULTS}:
 * `connectTimeoutMs` 5,000 ms, `timeoutMs` 15,000 ms, `retry` 250 ms base, 8,000 ms cap,
 * 4 attempts, a Retry-After or rateLimit-reset up to 60,000 ms slept through), and
 * `assertionLifetimeSeconds` 3600 (`exp - iat` of each assertion, LINE WORKS' maximum and what
 * its samples use).
 */
export const WORKS_CLIENT_DEFAULTS = Object.freeze({
  ...LINE_CLIENT_DEFAULTS,
  assertionLifetimeSeconds: 3600,
});

/** What the client reports after each attempt (for metrics; `endpoint` is `POST /oauth2/v2.0/token`, …). Never carries a secret. */
export type WorksAttemptInfo = LineAttemptInfo;

/**
 * Options of {@link createWorksClient}. One object, given once.
 *
 * @example
 * ```ts
 * const works = createWorksClient({ authBaseUrl: emu.url, apiBaseUrl: emu.url });
 * ```
 */
export interface WorksClientOptions extends Omit<LineClientOptions, "baseUrl" | "randomUUID" | "assertionLifetimeSeconds" | "onAttempt" | "env"> {
  /** Auth server origin. Default: `KAGIYA_WORKS_AUTH_BASE`, else https://auth.worksmobile.com. */
  authBaseUrl?: string;
  /** API origin. Default: `KAGIYA_WORKS_API_BASE`, else https://www.worksapis.com. */
  apiBaseUrl?: string;
  /** `exp - iat` of each assertion, seconds (at most 3600). */
  assertionLifetimeSeconds?: number;
  /** Called after every attempt, for metrics. Must not throw. */
  onAttempt?: (info: WorksAttemptInfo) => void;
  /** Environment to read `KAGIYA_WORKS_AUTH_BASE` and `KAGIYA_WORKS_API_BASE` from (default process.env). */
  env?: Record<string, string | undefined>;
}

/** The resolved, frozen configuration. */
export interface ResolvedWorksConfig extends Omit<ResolvedLineConfig, "baseUrl" | "randomUUID" | "assertionLifetimeSeconds" | "onAttempt"> {
  readonly authBaseUrl: string;
  readonly apiBaseUrl: string;
  readonly assertionLifetimeSeconds: number;
  readonly onAttempt: ((info: WorksAttemptInfo) => void) | undefined;
}

const KNOWN = new Set([
  "authBaseUrl", "apiBaseUrl", "fetch", "connectTimeoutMs", "timeoutMs", "retry", "now", "sleep", "random",
  "assertionLifetimeSeconds", "onAttempt", "env",
]);

/**
 * Validates and freezes client options. Unknown keys and out-of-range values are refused with an
 * InvalidInputError naming the field.
 *
 * @example
 * ```ts
 * const config = resolveWorksConfig({ authBaseUrl: "http://127.0.0.1:8787", timeoutMs: 5000 });
 * ```
 */
export function resolveWorksConfig(options: WorksClientOptions = {}): ResolvedWorksConfig {
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new InvalidInputError(`Unknown LINE WORKS client option "${key}".`, { field: key });
  }
  const env = options.env ?? (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
  const authBaseUrl = parseBaseUrl(options.authBaseUrl ?? env["KAGIYA_WORKS_AUTH_BASE"] ?? DEFAULT_WORKS_AUTH_BASE, options.authBaseUrl !== undefined ? "authBaseUrl" : "KAGIYA_WORKS_AUTH_BASE");
  const apiBaseUrl = parseBaseUrl(options.apiBaseUrl ?? env["KAGIYA_WORKS_API_BASE"] ?? DEFAULT_WORKS_API_BASE, options.apiBaseUrl !== undefined ? "apiBaseUrl" : "KAGIYA_WORKS_API_BASE");
  const lifetime = options.assertionLifetimeSeconds ?? WORKS_CLIENT_DEFAULTS.assertionLifetimeSeconds;
  if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > WORKS_ASSERTION_EXPIRES_IN_MAX) {
    throw new InvalidInputError(`assertionLifetimeSeconds must be an integer from 1 to ${WORKS_ASSERTION_EXPIRES_IN_MAX} (LINE WORKS refuses an assertion living over 60 minutes).`, { field: "assertionLifetimeSeconds" });
  }
  // The transport options mean what they mean for the LINE client: one resolver checks both.
  const { authBaseUrl: _a, apiBaseUrl: _b, assertionLifetimeSeconds: _c, env: _d, onAttempt, ...transport } = options;
  const t = resolveLineConfig({ ...transport, baseUrl: authBaseUrl, env: {} });
  return Object.freeze({
    authBaseUrl,
    apiBaseUrl,
    fetch: t.fetch,
    connectTimeoutMs: t.connectTimeoutMs,
    timeoutMs: t.timeoutMs,
    retry: t.retry,
    now: t.now,
    sleep: t.sleep,
    random: t.random,
    assertionLifetimeSeconds: lifetime,
    onAttempt,
  });
}
