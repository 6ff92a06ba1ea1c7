/**
 * Errors of the LINE client. Every one is a {@link KagiyaError} with a stable `code`, and every
 * one says whether the request may have taken effect at LINE (`delivery` / `ambiguous`), because
 * issuing a v2.1 token is not idempotent and the TokenManager must know when to check LINE's list
 * of valid key IDs before trying again (see ./recovery.ts).
 *
 * No field and no message ever holds a token, assertion, channel secret or request body: LINE's
 * own `error_description` / `message` / `details` texts are copied only after every secret of the
 * request has been redacted from them, and causes are kept as a bare code (`causeCode`), never as
 * the underlying error object (fetch errors can quote header values).
 */
import { KagiyaError } from "../../core/errors.ts";

/**
 * Whether a failed request may have taken effect at LINE.
 * - `not_sent`: it never left this process or never reached LINE (connection refused, DNS, TLS).
 * - `ambiguous`: it may have reached LINE and been acted on (timeout or reset after sending, a 5xx,
 *   a 2xx whose body could not be read).
 * - `answered`: LINE gave a definite refusal (a 4xx): nothing happened.
 */
export type LineDelivery = "not_sent" | "ambiguous" | "answered";

/** Stable codes of {@link LineError} and its subclasses. */
export type LineErrorCode =
  | "ERR_LINE_API"
  | "ERR_LINE_UNAUTHORIZED"
  | "ERR_LINE_RATE_LIMITED"
  | "ERR_LINE_TOKEN_LIMIT"
  | "ERR_LINE_SERVER"
  | "ERR_LINE_NETWORK"
  | "ERR_LINE_TIMEOUT"
  | "ERR_LINE_ABORTED"
  | "ERR_LINE_BAD_RESPONSE"
  | "ERR_LINE_ISSUE_AMBIGUOUS";

/** Common fields of every LINE client error. */
export interface LineErrorFields {
  /** Method and path, e.g. `POST /oauth2/v2.1/token` (never the query string). */
  endpoint: string;
  delivery: LineDelivery;
  /** Attempts made, including the one that failed. */
  attempts: number;
  /** HTTP status of the last answer, when there was one. */
  status?: number | undefined;
  /** LINE's `X-Line-Request-Id` of the last answer, for LINE support. */
  requestId?: string | undefined;
  /** Milliseconds LINE asked us to wait (Retry-After), when it did. */
  retryAfterMs?: number | undefined;
  /** The X-Line-Retry-Key a push was sent with: retry later with the same key. */
  retryKey?: string | undefined;
  /** A bare error code from the network layer (`ECONNREFUSED`, `UND_ERR_SOCKET`, …). */
  causeCode?: string | undefined;
}

/**
 * Base class of every error the LINE client throws.
 *
 * @example
 * ```ts
 * import { LineError } from "kagiya/clients/line";
 * try { await line.verifyChannelToken(token); }
 * catch (e) { if (e instanceof LineError && e.ambiguous) console.warn("may have reached LINE", e.requestId); }
 * ```
 */
export class LineError extends KagiyaError {
  declare readonly code: LineErrorCode;
  readonly endpoint: string;
  readonly delivery: LineDelivery;
  /** True when the request may have taken effect at LINE (`delivery === "ambiguous"`). */
  readonly ambiguous: boolean;
  readonly attempts: number;
  readonly status: number | undefined;
  readonly requestId: string | undefined;
  readonly retryAfterMs: number | undefined;
  readonly retryKey: string | undefined;
  readonly causeCode: string | undefined;
  constructor(code: LineErrorCode, message: string, fields: LineErrorFields) {
    super(code, message);
    this.endpoint = fields.endpoint;
    this.delivery = fields.delivery;
    this.ambiguous = fields.delivery === "ambiguous";
    this.attempts = fields.attempts;
    this.status = fields.status;
    this.requestId = fields.requestId;
    this.retryAfterMs = fields.retryAfterMs;
    this.retryKey = fields.retryKey;
    this.causeCode = fields.causeCode;
  }
}

/** LINE's error body, in either of its two shapes, secrets redacted. */
export interface LineErrorBody {
  /** OAuth style: `invalid_client`, `invalid_request`, … */
  error?: string | undefined;
  error_description?: string | undefined;
  /** Messaging style: `The maximum number of access tokens has already been issued`, … */
  message?: string | undefined;
  details?: Array<{ message?: string; property?: string }> | undefined;
}

/**
 * LINE answered with an error status. `code` narrows the common cases:
 * `ERR_LINE_UNAUTHORIZED` (401), `ERR_LINE_RATE_LIMITED` (429), `ERR_LINE_TOKEN_LIMIT` (400, the
 * channel already has 30 valid v2.1 tokens), `ERR_LINE_SERVER` (5xx, ambiguous), else `ERR_LINE_API`.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof LineApiError && e.code === "ERR_LINE_TOKEN_LIMIT") await manager.reconcile(id); }
 * ```
 */
export class LineApiError extends LineError {
  override readonly status: number;
  /** LINE's `error` (OAuth style). */
  readonly error: string | undefined;
  /** LINE's `error_description` (OAuth style), secrets redacted. */
  readonly errorDescription: string | undefined;
  /** LINE's `message` (Messaging style), secrets redacted. */
  readonly lineMessage: string | undefined;
  /** LINE's `details` (Messaging style), secrets redacted. */
  readonly details: Array<{ message?: string; property?: string }> | undefined;
  constructor(message: string, fields: LineErrorFields & { status: number; body: LineErrorBody }) {
    super(apiErrorCode(fields.status, fields.body), message, fields);
    this.status = fields.status;
    this.error = fields.body.error;
    this.errorDescription = fields.body.error_description;
    this.lineMessage = fields.body.message;
    this.details = fields.body.details;
  }
}

const TOKEN_LIMIT_MESSAGE = /maximum number of access tokens/i;

function apiErrorCode(status: number, body: LineErrorBody): LineErrorCode {
  if (status === 401) return "ERR_LINE_UNAUTHORIZED";
  if (status === 429) return "ERR_LINE_RATE_LIMITED";
  if (status >= 500) return "ERR_LINE_SERVER";
  if (status === 400 && body.message !== undefined && TOKEN_LIMIT_MESSAGE.test(body.message)) return "ERR_LINE_TOKEN_LIMIT";
  return "ERR_LINE_API";
}

/**
 * No HTTP answer: connection refused, DNS failure, reset, socket closed. `delivery` is `not_sent`
 * when the failure happened before a connection existed, `ambiguous` otherwise.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof LineNetworkError && e.delivery === "not_sent") console.warn("LINE unreachable:", e.causeCode); }
 * ```
 */
export class LineNetworkError extends LineError {
  constructor(message: string, fields: LineErrorFields) {
    super("ERR_LINE_NETWORK", message, fields);
  }
}

/**
 * A deadline passed. `phase` says which: `headers` (the connect timeout: no response headers
 * within `connectTimeoutMs`) or `total` (`timeoutMs` for the whole attempt, body included).
 * Always ambiguous: Node's fetch cannot tell whether the request had been written.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof LineTimeoutError) console.warn(`LINE slow (${e.phase}, ${e.timeoutMs} ms)`); }
 * ```
 */
export class LineTimeoutError extends LineError {
  readonly phase: "headers" | "total";
  readonly timeoutMs: number;
  constructor(message: string, fields: LineErrorFields & { phase: "headers" | "total"; timeoutMs: number }) {
    super("ERR_LINE_TIMEOUT", message, fields);
    this.phase = fields.phase;
    this.timeoutMs = fields.timeoutMs;
  }
}

/**
 * The caller's AbortSignal fired. `delivery` says whether the request may already have reached LINE.
 *
 * @example
 * ```ts
 * const ac = new AbortController();
 * setTimeout(() => ac.abort(), 1000);
 * await line.verifyChannelToken(token, { signal: ac.signal }); // may throw LineAbortedError
 * ```
 */
export class LineAbortedError extends LineError {
  constructor(message: string, fields: LineErrorFields) {
    super("ERR_LINE_ABORTED", message, fields);
  }
}

/**
 * LINE (or something pretending to be it) answered 2xx with a body that is not what LINE documents:
 * not JSON, truncated, HTML, a missing or mistyped field. Never a half-filled result. Ambiguous: the
 * operation probably happened (a v2.1 issue answered this way likely created a token nobody can read).
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof LineBadResponseError) console.warn(`LINE sent a bad ${e.field}`); }
 * ```
 */
export class LineBadResponseError extends LineError {
  /** The field at fault (`key_id`, `expires_in`, …), or `body` when the body itself is unreadable. */
  readonly field: string;
  constructor(message: string, fields: LineErrorFields & { field: string }) {
    super("ERR_LINE_BAD_RESPONSE", message, fields);
    this.field = fields.field;
  }
}

/**
 * Thrown by `issueWithRecovery` when issuing failed ambiguously and no further attempt was made.
 * `orphanKeyIds` are the key IDs LINE listed after the failures that the caller did not know: tokens
 * that were probably issued and lost, which count against the channel's 30-token cap until they expire.
 * `keyIdsChecked` is false when the listing itself failed: orphans are then unknown, reconcile before
 * issuing again.
 *
 * @example
 * ```ts
 * catch (e) {
 *   if (e instanceof LineIssueAmbiguousError) {
 *     await store.recordOrphans(channelId, e.orphanKeyIds);
 *     if (!e.keyIdsChecked) await manager.reconcile(channelId);
 *   }
 * }
 * ```
 */
export class LineIssueAmbiguousError extends LineError {
  readonly orphanKeyIds: string[];
  readonly keyIdsChecked: boolean;
  /** Code of the last issue failure (`ERR_LINE_TIMEOUT`, `ERR_LINE_SERVER`, …). */
  readonly lastErrorCode: LineErrorCode;
  constructor(message: string, fields: LineErrorFields & { orphanKeyIds: string[]; keyIdsChecked: boolean; lastErrorCode: LineErrorCode }) {
    super("ERR_LINE_ISSUE_AMBIGUOUS", message, fields);
    this.orphanKeyIds = fields.orphanKeyIds;
    this.keyIdsChecked = fields.keyIdsChecked;
    this.lastErrorCode = fields.lastErrorCode;
  }
}
