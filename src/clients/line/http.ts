/**
 * The one place the LINE client talks HTTP: deadlines, retries with full-jitter backoff,
 * Retry-After, Date-header clock tracking, and the mapping of every failure to a typed error that
 * says whether the request may have taken effect at LINE.
 *
 * Whether and when to retry is decided by the pure {@link decideRetry} (./retry.ts, with the
 * policies); a failure it does not retry is thrown, flagged ambiguous when it may have reached LINE.
 * An assertion-bearing request refused with 400/401 while the measured clock offset moved by
 * more than 2 s since its assertion was built is re-sent once with a fresh assertion: the refusal
 * was definite, so this cannot duplicate anything, and it is how a skewed first request recovers.
 */
import { ServerClock, parseRetryAfter } from "./clock.ts";
import {
  LineAbortedError,
  LineApiError,
  LineBadResponseError,
  LineNetworkError,
  LineTimeoutError,
  type LineDelivery,
  type LineErrorBody,
  type LineErrorCode,
} from "./errors.ts";
import type { ResolvedLineConfig } from "./options.ts";
import { backoffMs, decideRetry, type AttemptFailure, type RetryPolicy } from "./retry.ts";
import { errorBodyObject, fetchAttempt, requestParts, type AttemptOutcome, type RawResponse } from "../shared/attempt.ts";

export type { RetryPolicy };

/** The parts of a request that are built per attempt (a fresh assertion each time). */
export interface BuiltRequest {
  query?: Record<string, string>;
  form?: Record<string, string>;
  /** A JSON body, already serialized so that retries send the same bytes. */
  json?: string;
  headers?: Record<string, string>;
  /** Values that must never appear in an error (assertion, secret, token): redacted from LINE's texts. */
  secrets: string[];
}

/** A response handed to a request's parser. */
export type LineRawResponse = RawResponse;

/** What a parser gets to build typed errors with. */
export interface ParseContext {
  endpoint: string;
  attempts: number;
  /** Throws ERR_LINE_BAD_RESPONSE naming the field and the problem. */
  bad(field: string, problem: string): never;
  /** Builds the LineApiError this response would have produced had it not been accepted. */
  apiError(res: LineRawResponse): LineApiError;
  /** Secrets of this attempt, for parsers that copy LINE texts. */
  redact(text: string): string;
}

/** One logical call. */
export interface LineRequest<T> {
  method: "GET" | "POST";
  path: string;
  retry: RetryPolicy;
  /** Called before each attempt with LINE's corrected time (ms). */
  build(serverNowMs: number): BuiltRequest | Promise<BuiltRequest>;
  /** True when the request carries a client assertion (enables the skew re-send). */
  usesAssertion?: boolean;
  /** Statuses given to `parse` rather than turned into errors (default: 2xx). */
  accept?: (status: number) => boolean;
  parse(res: LineRawResponse, ctx: ParseContext): T;
  signal?: AbortSignal | undefined;
  /** Carried into errors so the caller can retry a push later with the same key. */
  retryKey?: string | undefined;
}

const SKEW_RESEND_THRESHOLD_MS = 2_000;

/**
 * Sends LINE requests with kagiya's timeouts, retries and clock tracking. Created once per client
 * by {@link createLineClient}; the endpoint modules (tokens.ts, messaging.ts) describe their calls
 * as {@link LineRequest}s and hand them to {@link LineHttp.send}.
 *
 * @example
 * ```ts
 * const http = new LineHttp(resolveLineConfig({ baseUrl: emulator.url }));
 * const kids = await http.send({ method: "GET", path: "/oauth2/v2.1/tokens/kid", retry: "idempotent", build, parse });
 * ```
 */
export class LineHttp {
  readonly config: ResolvedLineConfig;
  readonly clock: ServerClock;

  constructor(config: ResolvedLineConfig) {
    this.config = config;
    this.clock = new ServerClock(config.now);
  }

  /** Full-jitter backoff before retry number `retry` (1 for the first retry), ms. */
  backoffMs(retry: number): number {
    return backoffMs(retry, this.config.retry, this.config.random);
  }

  /** Sleeps with the injected sleep; a caller abort becomes LineAbortedError. */
  async pause(ms: number, signal: AbortSignal | undefined, fields: { endpoint: string; attempts: number; delivery: LineDelivery; retryKey?: string | undefined }): Promise<void> {
    try {
      await this.config.sleep(ms, signal);
    } catch (e) {
      if (signal?.aborted) throw aborted(fields);
      throw e;
    }
    if (signal?.aborted) throw aborted(fields);
  }

  /** Runs one logical call: attempts, retries and error mapping as described in the module comment. */
  async send<T>(req: LineRequest<T>): Promise<T> {
    const endpoint = `${req.method} ${req.path}`;
    let attempt = 0;
    let retries = 0;
    let anyAmbiguous = false;
    let skewResent = false;
    const decide = (failure: AttemptFailure, retryAfterMs?: number) =>
      decideRetry({ policy: req.retry, failure, attempt, retries, hasRetryKey: req.retryKey !== undefined, retryAfterMs, budget: this.config.retry, random: this.config.random });
    for (;;) {
      attempt++;
      const overall = (d: LineDelivery): LineDelivery => (anyAmbiguous ? "ambiguous" : d);
      if (req.signal?.aborted) throw aborted({ endpoint, attempts: attempt - 1, delivery: overall("not_sent"), retryKey: req.retryKey });
      const offsetUsed = this.clock.offsetMs;
      const built = await req.build(this.clock.serverNow());
      const started = this.config.now();
      const outcome = await this.#attempt(req, built);
      const durationMs = this.config.now() - started;
      const redact = (text: string): string => redactSecrets(text, built.secrets);

      if (outcome.ok) {
        const res = outcome.res;
        const accepted = req.accept ? req.accept(res.status) : res.status >= 200 && res.status < 300;
        const ctx = this.#context(endpoint, attempt, res, redact, overall, req.retryKey);
        if (accepted) {
          if (res.bodyError !== undefined) {
            anyAmbiguous = true;
            this.#report(endpoint, attempt, res.status, durationMs, "ERR_LINE_BAD_RESPONSE");
            const next = decide({ kind: "unreadable_body" });
            if (next.retry) {
              retries++;
              await this.pause(next.waitMs, req.signal, { endpoint, attempts: attempt, delivery: "ambiguous", retryKey: req.retryKey });
              continue;
            }
            ctx.bad("body", res.bodyError);
          }
          this.#report(endpoint, attempt, res.status, durationMs);
          return req.parse(res, ctx);
        }
        const delivery: LineDelivery = res.status >= 500 ? "ambiguous" : "answered";
        if (delivery === "ambiguous") anyAmbiguous = true;
        const error = ctx.apiError(res);
        this.#report(endpoint, attempt, res.status, durationMs, error.code);
        if (
          req.usesAssertion && !skewResent && (res.status === 400 || res.status === 401) &&
          Math.abs(this.clock.offsetMs - offsetUsed) > SKEW_RESEND_THRESHOLD_MS
        ) {
          skewResent = true; // once per call, whatever maxAttempts says
          continue;
        }
        const next = decide({ kind: "status", status: res.status }, error.retryAfterMs);
        if (next.retry) {
          retries++;
          await this.pause(next.waitMs, req.signal, { endpoint, attempts: attempt, delivery: overall(delivery), retryKey: req.retryKey });
          continue;
        }
        throw error;
      }

      const failure = outcome.failure;
      const delivery: LineDelivery = failure.kind === "timeout" ? "ambiguous" : failure.delivery;
      if (delivery === "ambiguous") anyAmbiguous = true;
      const fields = { endpoint, attempts: attempt, delivery: overall(delivery), retryKey: req.retryKey };
      if (failure.kind === "aborted") throw aborted(fields);
      const error =
        failure.kind === "timeout"
          ? new LineTimeoutError(
              `LINE did not answer ${endpoint} within ${failure.timeoutMs} ms (${failure.phase === "headers" ? "connect timeout: no response headers" : "total timeout"}) after ${attempt} attempt(s); the request may have reached LINE. Raise connectTimeoutMs/timeoutMs or check the network.`,
              { ...fields, phase: failure.phase, timeoutMs: failure.timeoutMs },
            )
          : new LineNetworkError(
              `Could not get an answer from LINE at ${this.config.baseUrl} for ${endpoint} (${failure.causeCode ?? "network error"}) after ${attempt} attempt(s); ${
                delivery === "ambiguous" ? "the connection broke after sending, so the request may have reached LINE"
                : anyAmbiguous ? "this attempt never reached LINE, but an earlier one may have"
                : "the request never reached LINE"
              }. Check the network and KAGIYA_LINE_API_BASE.`,
              { ...fields, causeCode: failure.causeCode },
            );
      this.#report(endpoint, attempt, 0, durationMs, error.code);
      const next = decide(failure.kind === "timeout" ? failure : { kind: "network", delivery: failure.delivery === "not_sent" ? "not_sent" : "ambiguous" });
      if (next.retry) {
        retries++;
        await this.pause(next.waitMs, req.signal, fields);
        continue;
      }
      throw error;
    }
  }

  #report(endpoint: string, attempt: number, status: number, durationMs: number, errorCode?: LineErrorCode): void {
    const hook = this.config.onAttempt;
    if (!hook) return;
    try {
      hook(errorCode === undefined ? { endpoint, attempt, status, durationMs } : { endpoint, attempt, status, durationMs, errorCode });
    } catch {
      // a metrics hook must never break a call
    }
  }

  #context(
    endpoint: string,
    attempts: number,
    res: LineRawResponse,
    redact: (text: string) => string,
    overall: (d: LineDelivery) => LineDelivery,
    retryKey: string | undefined,
  ): ParseContext {
    const serverNow = this.clock.serverNow();
    return {
      endpoint,
      attempts,
      redact,
      bad(field: string, problem: string): never {
        throw new LineBadResponseError(
          `LINE answered ${res.status} to ${endpoint} with an unusable body: ${field} ${problem}. Nothing was taken from it; the operation may have happened at LINE${res.requestId ? ` (request id ${res.requestId})` : ""}.`,
          { endpoint, attempts, delivery: "ambiguous", status: res.status, requestId: res.requestId, field, retryKey },
        );
      },
      apiError(r: LineRawResponse): LineApiError {
        const body = parseErrorBody(r.text, redact);
        const retryAfterMs = parseRetryAfter(r.headers.get("retry-after"), r.headers.get("date"), serverNow);
        const delivery: LineDelivery = overall(r.status >= 500 ? "ambiguous" : "answered");
        return new LineApiError(apiErrorMessage(endpoint, r.status, body, r.requestId, retryAfterMs, delivery), {
          endpoint, attempts, delivery, status: r.status, requestId: r.requestId, retryAfterMs, body, retryKey,
        });
      },
    };
  }

  #attempt(req: LineRequest<unknown>, built: BuiltRequest): Promise<AttemptOutcome> {
    const url = new URL(this.config.baseUrl + req.path);
    for (const [k, v] of Object.entries(built.query ?? {})) url.searchParams.set(k, v);
    const { headers, body } = requestParts(built);
    return fetchAttempt(this.config, this.clock, { method: req.method, url, headers, body, signal: req.signal });
  }
}

function aborted(fields: { endpoint: string; attempts: number; delivery: LineDelivery; retryKey?: string | undefined }): LineAbortedError {
  return new LineAbortedError(
    `The call to ${fields.endpoint} was aborted by the caller${fields.delivery === "ambiguous" ? "; the request may already have reached LINE" : " before it reached LINE"}.`,
    fields,
  );
}

const JWT_LIKE = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g;

/**
 * Removes every secret of the request (and anything shaped like a JWT) from a text LINE sent back,
 * and bounds its length.
 *
 * @example
 * ```ts
 * redactSecrets("bad token abc123secret", ["abc123secret"]); // "bad token [redacted]"
 * ```
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join("[redacted]");
  out = out.replace(JWT_LIKE, "[redacted]");
  return out.length > 300 ? `${out.slice(0, 300)}…` : out;
}

function parseErrorBody(text: string, redact: (t: string) => string): LineErrorBody {
  const o = errorBodyObject(text);
  const str = (v: unknown): string | undefined => (typeof v === "string" ? redact(v) : undefined);
  const body: LineErrorBody = {};
  if (str(o["error"]) !== undefined) body.error = str(o["error"]);
  if (str(o["error_description"]) !== undefined) body.error_description = str(o["error_description"]);
  if (str(o["message"]) !== undefined) body.message = str(o["message"]);
  if (Array.isArray(o["details"])) {
    body.details = o["details"].slice(0, 20).flatMap((d: unknown) => {
      if (typeof d !== "object" || d === null) return [];
      const item: { message?: string; property?: string } = {};
      const m = str((d as Record<string, unknown>)["message"]);
      const p = str((d as Record<string, unknown>)["property"]);
      if (m !== undefined) item.message = m;
      if (p !== undefined) item.property = p;
      return [item];
    });
  }
  return body;
}

function apiErrorMessage(endpoint: string, status: number, body: LineErrorBody, requestId: string | undefined, retryAfterMs: number | undefined, delivery: LineDelivery): string {
  const what = [body.error, body.error_description, body.message].filter((s) => s !== undefined).join(": ");
  const details = body.details?.length ? ` (${body.details.map((d) => [d.property, d.message].filter(Boolean).join(" ")).join("; ")})` : "";
  let hint: string;
  if (status === 401) hint = "The credentials or access token were refused: check them, or get a new token.";
  else if (status === 429) hint = `LINE is rate limiting; retry${retryAfterMs !== undefined ? ` after ${Math.ceil(retryAfterMs / 1000)} s` : " later"}.`;
  else if (status >= 500) hint = "LINE had a server error; the request may have taken effect.";
  else if (status === 400 && body.message !== undefined && /maximum number of access tokens/i.test(body.message))
    hint = "The channel already has 30 valid v2.1 tokens: revoke some or wait for them to expire.";
  else if (status === 404 && body.message !== undefined && /channel key/i.test(body.message))
    hint = "The kid is not registered to this channel: register the public key in the LINE Developers Console and use the kid it shows.";
  else if (/exp/i.test(body.error_description ?? "")) hint = "Check the assertion's exp and the machine's clock.";
  else hint = "Check the channel ID, kid, key, secret and request fields.";
  const ambiguous = delivery === "ambiguous" && status < 500 ? " An earlier attempt may have taken effect." : "";
  return `LINE answered ${status} to ${endpoint}${what ? `: ${what}` : ""}${details}. ${hint}${ambiguous}${requestId ? ` (request id ${requestId})` : ""}`;
}
