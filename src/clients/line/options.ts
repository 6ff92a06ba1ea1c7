/**
 * Options of the LINE client, resolved once into a frozen object. Every default, with its unit,
 * is here and nowhere else.
 */
import { InvalidInputError } from "../../core/errors.ts";

/** Default LINE API origin; `KAGIYA_LINE_API_BASE` or `baseUrl` override it (e.g. the emulator). */
export const DEFAULT_LINE_API_BASE = "https://api.line.me";

/**
 * Defaults, with units:
 * - `connectTimeoutMs` 5,000 ms: deadline for LINE's response headers (see {@link LineClientOptions.connectTimeoutMs});
 * - `timeoutMs` 15,000 ms: deadline for a whole attempt, body included;
 * - `retry.baseMs` 250 ms, `retry.capMs` 8,000 ms: full-jitter backoff, attempt n sleeps
 *   random() × min(capMs, baseMs × 2^(n-1));
 * - `retry.maxAttempts` 4 (the first attempt and 3 retries);
 * - `retry.maxRetryAfterMs` 60,000 ms: a longer Retry-After is not slept through, the error
 *   (with `retryAfterMs`) is thrown for the caller to schedule;
 * - `assertionLifetimeSeconds` 300: `exp` of each assertion, counted in LINE's (corrected) time.
 */
export const LINE_CLIENT_DEFAULTS = Object.freeze({
  connectTimeoutMs: 5_000,
  timeoutMs: 15_000,
  retry: Object.freeze({ baseMs: 250, capMs: 8_000, maxAttempts: 4, maxRetryAfterMs: 60_000 }),
  assertionLifetimeSeconds: 300,
});

/** Retry tuning; every field optional (defaults in {@link LINE_CLIENT_DEFAULTS}). */
export interface LineRetryOptions {
  /** First backoff ceiling, ms. */
  baseMs?: number;
  /** Largest backoff ceiling, ms. */
  capMs?: number;
  /** Attempts in all, the first included (1 disables retries). */
  maxAttempts?: number;
  /** Longest Retry-After slept through, ms; longer ones end the call with the error. */
  maxRetryAfterMs?: number;
}

/** What the client reports after each attempt (for metrics). Never carries a secret. */
export interface LineAttemptInfo {
  /** `POST /oauth2/v2.1/token`, … */
  endpoint: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** HTTP status, or 0 when there was no answer. */
  status: number;
  /** Local ms from sending to the end of the body (or the failure). */
  durationMs: number;
  /** Error code of a failed attempt (`ERR_LINE_TIMEOUT`, …), absent on success. */
  errorCode?: string;
}

/**
 * Options of {@link createLineClient}. One object, given once.
 *
 * @example
 * ```ts
 * const line = createLineClient({ baseUrl: "http://127.0.0.1:8787", retry: { maxAttempts: 3 } });
 * ```
 */
export interface LineClientOptions {
  /** LINE API origin. Default: `KAGIYA_LINE_API_BASE`, else https://api.line.me. */
  baseUrl?: string;
  /** The fetch to use (default: the global one). */
  fetch?: typeof globalThis.fetch;
  /**
   * Connect timeout, ms. Node's global fetch cannot time the TCP/TLS connect on its own, so this is
   * a deadline for the response headers: it covers DNS, connect, TLS, sending and LINE's processing,
   * and is kept shorter than `timeoutMs`. A request that misses it is ambiguous (it may have been sent).
   */
  connectTimeoutMs?: number;
  /** Total timeout of one attempt, body included, ms. */
  timeoutMs?: number;
  retry?: LineRetryOptions;
  /** Local clock, ms since the epoch (default Date.now). */
  now?: () => number;
  /** Sleep between attempts (default: a timer). Tests inject one that records and returns at once. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Uniform random in [0, 1) for backoff jitter (default Math.random). */
  random?: () => number;
  /** Makes X-Line-Retry-Key values (default crypto.randomUUID). */
  randomUUID?: () => string;
  /** Lifetime of each client assertion, seconds (at most 1800, LINE's limit). */
  assertionLifetimeSeconds?: number;
  /** Called after every attempt, for metrics. Must not throw. */
  onAttempt?: (info: LineAttemptInfo) => void;
  /** Environment to read `KAGIYA_LINE_API_BASE` from (default process.env). */
  env?: Record<string, string | undefined>;
}

/** The resolved, frozen configuration. */
export interface ResolvedLineConfig {
  readonly baseUrl: string;
  readonly fetch: typeof globalThis.fetch;
  readonly connectTimeoutMs: number;
  readonly timeoutMs: number;
  readonly retry: Readonly<Required<LineRetryOptions>>;
  readonly now: () => number;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly random: () => number;
  readonly randomUUID: () => string;
  readonly assertionLifetimeSeconds: number;
  readonly onAttempt: ((info: LineAttemptInfo) => void) | undefined;
}

const KNOWN = new Set([
  "baseUrl", "fetch", "connectTimeoutMs", "timeoutMs", "retry", "now", "sleep", "random", "randomUUID",
  "assertionLifetimeSeconds", "onAttempt", "env",
]);
const KNOWN_RETRY = new Set(["baseMs", "capMs", "maxAttempts", "maxRetryAfterMs"]);

/**
 * Validates and freezes client options. Unknown keys and out-of-range values are refused with an
 * InvalidInputError naming the field.
 *
 * @example
 * ```ts
 * const config = resolveLineConfig({ timeoutMs: 5000 });
 * ```
 */
export function resolveLineConfig(options: LineClientOptions = {}): ResolvedLineConfig {
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new InvalidInputError(`Unknown LINE client option "${key}".`, { field: key });
  }
  for (const key of Object.keys(options.retry ?? {})) {
    if (!KNOWN_RETRY.has(key)) throw new InvalidInputError(`Unknown LINE client retry option "${key}".`, { field: `retry.${key}` });
  }
  const env = options.env ?? (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
  const baseUrl = parseBaseUrl(options.baseUrl ?? env["KAGIYA_LINE_API_BASE"] ?? DEFAULT_LINE_API_BASE, options.baseUrl !== undefined ? "baseUrl" : "KAGIYA_LINE_API_BASE");
  const d = LINE_CLIENT_DEFAULTS;
  const timeoutMs = positive("timeoutMs", options.timeoutMs ?? d.timeoutMs);
  const connectTimeoutMs = Math.min(positive("connectTimeoutMs", options.connectTimeoutMs ?? d.connectTimeoutMs), timeoutMs);
  const r = options.retry ?? {};
  const retry = Object.freeze({
    baseMs: nonNegative("retry.baseMs", r.baseMs ?? d.retry.baseMs),
    capMs: nonNegative("retry.capMs", r.capMs ?? d.retry.capMs),
    maxAttempts: integerAtLeast("retry.maxAttempts", r.maxAttempts ?? d.retry.maxAttempts, 1),
    maxRetryAfterMs: nonNegative("retry.maxRetryAfterMs", r.maxRetryAfterMs ?? d.retry.maxRetryAfterMs),
  });
  const lifetime = integerAtLeast("assertionLifetimeSeconds", options.assertionLifetimeSeconds ?? d.assertionLifetimeSeconds, 1);
  if (lifetime > 1800) {
    throw new InvalidInputError("assertionLifetimeSeconds may be at most 1800 (LINE refuses an exp more than 30 minutes ahead).", { field: "assertionLifetimeSeconds" });
  }
  return Object.freeze({
    baseUrl,
    fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
    connectTimeoutMs,
    timeoutMs,
    retry,
    now: options.now ?? Date.now,
    sleep: options.sleep ?? defaultSleep,
    random: options.random ?? Math.random,
    randomUUID: options.randomUUID ?? (() => globalThis.crypto.randomUUID()),
    assertionLifetimeSeconds: lifetime,
    onAttempt: options.onAttempt,
  });
}

/**
 * Checks an http(s) base URL without credentials, query or fragment; returns it without a trailing slash.
 *
 * @example
 * ```ts
 * parseBaseUrl("http://127.0.0.1:8787/", "baseUrl"); // "http://127.0.0.1:8787"
 * ```
 */
export function parseBaseUrl(value: string, field: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidInputError(`${field} is not a URL; give an origin such as https://api.line.me or http://127.0.0.1:8787 (the emulator).`, { field });
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new InvalidInputError(`${field} must be an http or https URL.`, { field });
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new InvalidInputError(`${field} must not carry credentials, a query or a fragment.`, { field });
  }
  return url.href.replace(/\/+$/, "");
}

function positive(field: string, v: number): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) throw new InvalidInputError(`${field} must be a positive number of milliseconds.`, { field });
  return v;
}

function nonNegative(field: string, v: number): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new InvalidInputError(`${field} must be a number of milliseconds, 0 or more.`, { field });
  return v;
}

function integerAtLeast(field: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) throw new InvalidInputError(`${field} must be an integer of at least ${min}.`, { field });
  return v;
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
