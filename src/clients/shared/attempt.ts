/**
 * One HTTP attempt with kagiya's two deadlines (response headers, whole exchange), Date-header
 * clock tracking and a classification of every failure by whether the request may have reached
 * the server. Shared by the LINE and LINE WORKS clients, which add their own retries and errors.
 */
import type { ServerClock } from "../line/clock.ts";

/**
 * Whether a failed request may have taken effect upstream.
 * - `not_sent`: it never left this process or never reached the server (connection refused, DNS, TLS).
 * - `ambiguous`: it may have reached the server and been acted on (timeout or reset after sending,
 *   a 5xx, a 2xx whose body could not be read).
 * - `answered`: the server gave a definite refusal (a 4xx): nothing happened.
 */
export type Delivery = "not_sent" | "ambiguous" | "answered";

/** What a failed attempt was, before it becomes a client's typed error. */
export type AttemptFailure =
  | { kind: "network"; delivery: Delivery; causeCode: string | undefined }
  | { kind: "timeout"; phase: "headers" | "total"; timeoutMs: number }
  | { kind: "aborted"; delivery: Delivery };

/** A response as read by {@link fetchAttempt}. */
export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The server's request ID header (`x-line-request-id`), when it sent one. */
  requestId: string | undefined;
  /** Set when the body could not be read (cut off mid-way, or too large): what went wrong, as a phrase. */
  bodyError: string | undefined;
}

/** The outcome of one attempt. */
export type AttemptOutcome = { ok: true; res: RawResponse } | { ok: false; failure: AttemptFailure };

/** The configuration one attempt reads. */
export interface AttemptConfig {
  readonly fetch: typeof globalThis.fetch;
  readonly now: () => number;
  readonly connectTimeoutMs: number;
  readonly timeoutMs: number;
}

/** The request of one attempt. */
export interface AttemptRequest {
  method: string;
  url: URL;
  headers: Headers;
  body: string | undefined;
  signal?: AbortSignal | undefined;
}

// Answers of LINE and LINE WORKS are a few hundred bytes; anything this large is not theirs.
const MAX_BODY_BYTES = 1024 * 1024;

// Failures that happen before a connection exists: the request surely never reached the server.
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EAI_NONAME", "EHOSTUNREACH", "ENETUNREACH",
  "EHOSTDOWN", "ENETDOWN", "EADDRNOTAVAIL", "UND_ERR_CONNECT_TIMEOUT", "CERT_HAS_EXPIRED",
  "DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "ERR_TLS_CERT_ALTNAME_INVALID", "ERR_SSL_WRONG_VERSION_NUMBER",
]);

/**
 * Sends one request with the headers deadline (`connectTimeoutMs`) and the total deadline
 * (`timeoutMs`), records the response's Date header on `clock`, and reads the body (at most 1 MB).
 * Never throws for network trouble: it returns the failure, classified.
 *
 * @example
 * ```ts
 * const out = await fetchAttempt(config, clock, { method: "GET", url, headers: new Headers(), body: undefined });
 * if (out.ok) console.log(out.res.status);
 * ```
 */
export async function fetchAttempt(config: AttemptConfig, clock: ServerClock, req: AttemptRequest): Promise<AttemptOutcome> {
  const headersDeadline = new AbortController();
  const totalDeadline = new AbortController();
  const signals = [headersDeadline.signal, totalDeadline.signal];
  if (req.signal) signals.push(req.signal);
  const signal = AbortSignal.any(signals);
  const { connectTimeoutMs, timeoutMs } = config;
  const headersTimer = setTimeout(() => headersDeadline.abort(), connectTimeoutMs);
  const totalTimer = setTimeout(() => totalDeadline.abort(), timeoutMs);
  const whyAborted = (): AttemptFailure | undefined =>
    req.signal?.aborted ? { kind: "aborted", delivery: "ambiguous" }
    : headersDeadline.signal.aborted ? { kind: "timeout", phase: "headers", timeoutMs: connectTimeoutMs }
    : totalDeadline.signal.aborted ? { kind: "timeout", phase: "total", timeoutMs }
    : undefined;
  const sentAt = config.now();
  try {
    let response: Response;
    try {
      response = await config.fetch(req.url, { method: req.method, headers: req.headers, body: req.body, signal, redirect: "manual" });
    } catch (e) {
      return { ok: false, failure: whyAborted() ?? classifyFetchError(e) };
    }
    clearTimeout(headersTimer);
    clock.observe(response.headers.get("date"), sentAt, config.now());
    const requestId = response.headers.get("x-line-request-id") ?? undefined;
    let text = "";
    let bodyError: string | undefined;
    try {
      if (Number(response.headers.get("content-length")) > MAX_BODY_BYTES) {
        await response.body?.cancel();
        bodyError = "is over 1 MB, not a real answer";
      } else text = await response.text();
    } catch (e) {
      const why = whyAborted();
      if (why) return { ok: false, failure: why };
      bodyError = `was cut off (${errorCode(e) ?? "connection closed"})`;
    }
    return { ok: true, res: { status: response.status, headers: response.headers, text, requestId, bodyError } };
  } finally {
    clearTimeout(headersTimer);
    clearTimeout(totalTimer);
  }
}

/** The first string `code` on an error or its causes (`ECONNREFUSED`, `UND_ERR_SOCKET`, …). */
export function errorCode(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; cur && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

function classifyFetchError(e: unknown): AttemptFailure {
  const code = errorCode(e);
  if (code !== undefined) return { kind: "network", delivery: NOT_SENT_CODES.has(code) ? "not_sent" : "ambiguous", causeCode: code };
  // fetch rejects with a bare TypeError (no cause) for requests it refuses to send: bad header values, bad URL.
  const bare = e instanceof TypeError && (e as { cause?: unknown }).cause === undefined && !/fetch failed|terminated/i.test(e.message);
  return { kind: "network", delivery: bare ? "not_sent" : "ambiguous", causeCode: bare ? "ERR_REQUEST_NOT_SENDABLE" : undefined };
}

/** A body as the endpoint modules describe it: a form, or JSON already serialized. */
export interface BodyParts {
  form?: Record<string, string>;
  json?: string;
  headers?: Record<string, string>;
}

/**
 * The headers (JSON accepted, kagiya's user agent, the body's content type, then the call's own)
 * and the encoded body of a request.
 *
 * @example
 * ```ts
 * const { headers, body } = requestParts({ form: { grant_type: "refresh_token" } });
 * ```
 */
export function requestParts(built: BodyParts): { headers: Headers; body: string | undefined } {
  const headers = new Headers({ accept: "application/json", "user-agent": "kagiya" });
  let body: string | undefined;
  if (built.form) {
    headers.set("content-type", "application/x-www-form-urlencoded");
    body = new URLSearchParams(built.form).toString();
  } else if (built.json !== undefined) {
    headers.set("content-type", "application/json");
    body = built.json;
  }
  for (const [k, v] of Object.entries(built.headers ?? {})) headers.set(k, v);
  return { headers, body };
}

/**
 * Full-jitter backoff before retry number `retry` (1 for the first retry), ms:
 * random() × min(capMs, baseMs × 2^(retry-1)).
 *
 * @example
 * ```ts
 * fullJitterMs(2, { baseMs: 250, capMs: 8000 }, Math.random); // 0 … 500
 * ```
 */
export function fullJitterMs(retry: number, retryOptions: { baseMs: number; capMs: number }, random: () => number): number {
  const ceiling = Math.min(retryOptions.capMs, retryOptions.baseMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

/**
 * An error body parsed as a JSON object, or an empty object when it is anything else (HTML, a
 * truncated text, an array): error bodies are read for their hints, never trusted.
 *
 * @example
 * ```ts
 * errorBodyObject('{"error":"invalid_grant"}')["error"]; // "invalid_grant"
 * ```
 */
export function errorBodyObject(text: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return {};
  }
  return typeof json === "object" && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>) : {};
}
