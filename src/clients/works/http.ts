/**
 * The one place the LINE WORKS client talks HTTP: the shared attempt (deadlines, Date-header clock
 * tracking), retries with full-jitter backoff, Retry-After and `rateLimit-reset`, and the mapping
 * of every failure to a typed {@link WorksError} that says whether the request may have taken effect.
 *
 * Retry policies (never on a 4xx other than 429, never on a bad 2xx body of an `unsafe` call):
 * - `idempotent` (assertion grant, revoke): network errors, timeouts, 5xx, 429;
 * - `unsafe` (refresh-token grant, bot messages): only failures that surely never reached LINE WORKS
 *   and 429; with rotation on, a refresh that may have been acted on has already burnt its refresh
 *   token, and a message has no idempotency key.
 * An assertion refused with 400/401 while the measured clock offset moved by more than 2 s since
 * the assertion was built is re-sent once with a fresh one (how a skewed first request recovers).
 */
import { parseRetryAfter, ServerClock } from "../line/clock.ts";
import { redactSecrets } from "../line/http.ts";
import type { BadBody } from "../line/validate.ts";
import { errorBodyObject, fetchAttempt, fullJitterMs, requestParts, type AttemptFailure, type Delivery, type RawResponse } from "../shared/attempt.ts";
import { WorksApiError, WorksBadResponseError, WorksError, type WorksErrorBody, type WorksErrorCode } from "./errors.ts";
import type { ResolvedWorksConfig } from "./options.ts";

/** Which failures a request may be retried on; see the module comment. */
export type WorksRetryPolicy = "idempotent" | "unsafe";

/** The parts of a request built per attempt (a fresh assertion each time). */
export interface BuiltWorksRequest {
  form?: Record<string, string>;
  /** A JSON body, already serialized. */
  json?: string;
  headers?: Record<string, string>;
  /** Values that must never appear in an error (assertion, secret, token). */
  secrets: string[];
}

/** One logical call. */
export interface WorksRequest<T> {
  /** Which origin: the auth server or the API. */
  base: "auth" | "api";
  method: "GET" | "POST";
  path: string;
  retry: WorksRetryPolicy;
  /** Called before each attempt with LINE WORKS' corrected time (ms). */
  build(serverNowMs: number): BuiltWorksRequest | Promise<BuiltWorksRequest>;
  /** True when the request carries an assertion (enables the skew re-send). */
  usesAssertion?: boolean;
  parse(res: RawResponse, ctx: BadBody): T;
  signal?: AbortSignal | undefined;
}

const SKEW_RESEND_THRESHOLD_MS = 2_000;
// A rateLimit-reset this large is an epoch time in seconds rather than seconds to wait.
const EPOCH_SECONDS_FLOOR = 1_000_000_000;

/**
 * Reads LINE WORKS' wait: `Retry-After` when present (either form), else `rateLimit-reset`, which
 * is seconds until the window resets (an epoch time in seconds is also understood, against the
 * response's Date header). Returns ms (never negative), or undefined.
 *
 * @example
 * ```ts
 * worksRetryAfterMs(new Headers({ "ratelimit-reset": "12" }), Date.now()); // 12000
 * ```
 */
export function worksRetryAfterMs(headers: Headers, serverNowMs: number): number | undefined {
  const date = headers.get("date");
  const retryAfter = parseRetryAfter(headers.get("retry-after"), date, serverNowMs);
  if (retryAfter !== undefined) return retryAfter;
  const reset = headers.get("ratelimit-reset")?.trim();
  if (reset === undefined || !/^\d{1,12}$/.test(reset)) return undefined;
  const n = Number(reset);
  if (n < EPOCH_SECONDS_FLOOR) return n * 1000;
  const reference = date ? Date.parse(date) : Number.NaN;
  return Math.max(0, n * 1000 - (Number.isFinite(reference) ? reference : serverNowMs));
}

/**
 * Sends LINE WORKS requests with kagiya's timeouts, retries and clock tracking. One per client.
 *
 * @example
 * ```ts
 * const http = new WorksHttp(resolveWorksConfig({ authBaseUrl: emu.url, apiBaseUrl: emu.url }));
 * ```
 */
export class WorksHttp {
  readonly config: ResolvedWorksConfig;
  /** LINE WORKS' clock as measured from Date headers (assertions are built in it). */
  readonly clock: ServerClock;

  constructor(config: ResolvedWorksConfig) {
    this.config = config;
    this.clock = new ServerClock(config.now);
  }

  /** Runs one logical call: attempts, retries and error mapping as described in the module comment. */
  async send<T>(req: WorksRequest<T>): Promise<T> {
    const endpoint = `${req.method} ${req.path}`;
    const { maxAttempts, maxRetryAfterMs } = this.config.retry;
    let attempt = 0;
    let retries = 0;
    let anyAmbiguous = false;
    let skewResent = false;
    const pause = async (ms: number, delivery: Delivery): Promise<void> => {
      try {
        await this.config.sleep(ms, req.signal);
      } catch (e) {
        if (!req.signal?.aborted) throw e;
      }
      if (req.signal?.aborted) throw aborted(endpoint, attempt, delivery);
    };
    for (;;) {
      attempt++;
      const overall = (d: Delivery): Delivery => (anyAmbiguous ? "ambiguous" : d);
      if (req.signal?.aborted) throw aborted(endpoint, attempt - 1, overall("not_sent"));
      const offsetUsed = this.clock.offsetMs;
      const built = await req.build(this.clock.serverNow());
      const started = this.config.now();
      const outcome = await fetchAttempt(this.config, this.clock, this.#request(req, built));
      const durationMs = this.config.now() - started;
      const redact = (text: string): string => redactSecrets(text, built.secrets);

      if (outcome.ok) {
        const res = outcome.res;
        if (res.status >= 200 && res.status < 300) {
          if (res.bodyError !== undefined) {
            anyAmbiguous = true;
            this.#report(endpoint, attempt, res.status, durationMs, "ERR_WORKS_BAD_RESPONSE");
            if (req.retry === "idempotent" && attempt < maxAttempts) {
              await pause(fullJitterMs(++retries, this.config.retry, this.config.random), "ambiguous");
              continue;
            }
            bad(endpoint, attempt, res.status, "body", res.bodyError);
          }
          this.#report(endpoint, attempt, res.status, durationMs);
          return req.parse(res, { bad: (field, problem) => bad(endpoint, attempt, res.status, field, problem) });
        }
        const delivery: Delivery = res.status >= 500 ? "ambiguous" : "answered";
        if (delivery === "ambiguous") anyAmbiguous = true;
        const error = apiError(endpoint, attempt, res, redact, overall(delivery), this.clock.serverNow());
        this.#report(endpoint, attempt, res.status, durationMs, error.code);
        if (req.usesAssertion && !skewResent && (res.status === 400 || res.status === 401) && Math.abs(this.clock.offsetMs - offsetUsed) > SKEW_RESEND_THRESHOLD_MS) {
          skewResent = true; // once per call, whatever maxAttempts says
          continue;
        }
        const retryable = res.status === 429 || (res.status >= 500 && req.retry === "idempotent");
        const wait = error.retryAfterMs;
        if (retryable && attempt < maxAttempts && (wait === undefined || wait <= maxRetryAfterMs)) {
          retries++;
          await pause(wait ?? fullJitterMs(retries, this.config.retry, this.config.random), overall(delivery));
          continue;
        }
        throw error;
      }

      const failure = outcome.failure;
      const delivery: Delivery = failure.kind === "timeout" ? "ambiguous" : failure.delivery;
      if (delivery === "ambiguous") anyAmbiguous = true;
      if (failure.kind === "aborted") throw aborted(endpoint, attempt, overall(delivery));
      const error = transportError(endpoint, attempt, failure, overall(delivery), this.#base(req));
      this.#report(endpoint, attempt, 0, durationMs, error.code);
      if ((delivery === "not_sent" || req.retry === "idempotent") && attempt < maxAttempts) {
        await pause(fullJitterMs(++retries, this.config.retry, this.config.random), overall(delivery));
        continue;
      }
      throw error;
    }
  }

  #base(req: WorksRequest<unknown>): string {
    return req.base === "auth" ? this.config.authBaseUrl : this.config.apiBaseUrl;
  }

  #request(req: WorksRequest<unknown>, built: BuiltWorksRequest): { method: string; url: URL; headers: Headers; body: string | undefined; signal: AbortSignal | undefined } {
    const { headers, body } = requestParts(built);
    return { method: req.method, url: new URL(this.#base(req) + req.path), headers, body, signal: req.signal };
  }

  #report(endpoint: string, attempt: number, status: number, durationMs: number, errorCode?: WorksErrorCode): void {
    const hook = this.config.onAttempt;
    if (!hook) return;
    try {
      hook(errorCode === undefined ? { endpoint, attempt, status, durationMs } : { endpoint, attempt, status, durationMs, errorCode });
    } catch {
      // a metrics hook must never break a call
    }
  }
}

function aborted(endpoint: string, attempts: number, delivery: Delivery): WorksError {
  return new WorksError("ERR_WORKS_ABORTED", `The call to ${endpoint} was aborted by the caller${delivery === "ambiguous" ? "; the request may already have reached LINE WORKS" : " before it reached LINE WORKS"}.`, { endpoint, attempts, delivery });
}

function bad(endpoint: string, attempts: number, status: number, field: string, problem: string): never {
  throw new WorksBadResponseError(
    `LINE WORKS answered ${status} to ${endpoint} with an unusable body: ${field} ${problem}. Nothing was taken from it; the operation may have happened at LINE WORKS.`,
    { endpoint, attempts, delivery: "ambiguous", status, field },
  );
}

function transportError(endpoint: string, attempts: number, failure: Exclude<AttemptFailure, { kind: "aborted" }>, delivery: Delivery, base: string): WorksError {
  if (failure.kind === "timeout") {
    return new WorksError(
      "ERR_WORKS_TIMEOUT",
      `LINE WORKS did not answer ${endpoint} within ${failure.timeoutMs} ms (${failure.phase === "headers" ? "no response headers" : "total timeout"}) after ${attempts} attempt(s); the request may have reached it.`,
      { endpoint, attempts, delivery },
    );
  }
  return new WorksError(
    "ERR_WORKS_NETWORK",
    `Could not get an answer from LINE WORKS at ${base} for ${endpoint} (${failure.causeCode ?? "network error"}) after ${attempts} attempt(s); ${delivery === "ambiguous" ? "the request may have reached it" : "the request never reached it"}. Check the network and KAGIYA_WORKS_AUTH_BASE / KAGIYA_WORKS_API_BASE.`,
    { endpoint, attempts, delivery, causeCode: failure.causeCode },
  );
}

function parseErrorBody(text: string, redact: (t: string) => string): WorksErrorBody {
  const o = errorBodyObject(text);
  const body: WorksErrorBody = {};
  for (const field of ["error", "error_description", "code", "description"] as const) {
    const v = o[field];
    if (typeof v === "string") body[field] = redact(v);
  }
  return body;
}

function apiError(endpoint: string, attempts: number, res: RawResponse, redact: (t: string) => string, delivery: Delivery, serverNowMs: number): WorksApiError {
  const body = parseErrorBody(res.text, redact);
  const retryAfterMs = worksRetryAfterMs(res.headers, serverNowMs);
  const what = [body.error, body.error_description, body.code, body.description].filter((s) => s !== undefined).join(": ");
  let hint: string;
  if (res.status === 429) hint = `LINE WORKS is rate limiting; retry${retryAfterMs !== undefined ? ` after ${Math.ceil(retryAfterMs / 1000)} s` : " later"}.`;
  else if (res.status >= 500) hint = "LINE WORKS had a server error; the request may have taken effect.";
  else if (body.error === "invalid_grant") hint = "The assertion or refresh token was refused: check the key, Client ID, service account ID, iat/exp and the clock (or the refresh token was rotated or revoked).";
  else if (body.error === "invalid_client") hint = "Check the Client ID and Client Secret.";
  else if (body.error === "invalid_scope") hint = "Enable the scope for the app in the Developer Console (changes take minutes to apply).";
  else if (res.status === 401 || body.code === "UNAUTHORIZED") hint = "The access token was refused: get a new one.";
  else hint = "Check the request fields.";
  return new WorksApiError(`LINE WORKS answered ${res.status} to ${endpoint}${what ? `: ${what}` : ""}. ${hint}`, { endpoint, attempts, delivery, status: res.status, retryAfterMs, body });
}
