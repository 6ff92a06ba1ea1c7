/**
 * Errors of the LINE WORKS client. Every one is a {@link KagiyaError} with a stable `code` and says
 * whether the request may have taken effect (`delivery` / `ambiguous`), with the same fields the
 * token engine already reads from LINE's errors (`code`, `message`, `ambiguous`, `retryAfterMs`).
 * No field and no message holds a token, assertion, secret or request body: LINE WORKS' own texts
 * are copied only after every secret of the request has been redacted from them.
 */
import { KagiyaError } from "../../core/errors.ts";
import type { Delivery } from "../shared/attempt.ts";

/** Stable codes of {@link WorksError}, each listed with its meaning in docs/works.md. */
export const WORKS_ERROR_CODES = [
  "ERR_WORKS_API",
  "ERR_WORKS_UNAUTHORIZED",
  "ERR_WORKS_INVALID_GRANT",
  "ERR_WORKS_INVALID_CLIENT",
  "ERR_WORKS_INVALID_SCOPE",
  "ERR_WORKS_RATE_LIMITED",
  "ERR_WORKS_SERVER",
  "ERR_WORKS_NETWORK",
  "ERR_WORKS_TIMEOUT",
  "ERR_WORKS_ABORTED",
  "ERR_WORKS_BAD_RESPONSE",
] as const;

/** A stable code of {@link WorksError}. */
export type WorksErrorCode = (typeof WORKS_ERROR_CODES)[number];

/** Common fields of every LINE WORKS client error. */
export interface WorksErrorFields {
  /** Method and path, e.g. `POST /oauth2/v2.0/token`. */
  endpoint: string;
  delivery: Delivery;
  /** Attempts made, including the one that failed. */
  attempts: number;
  status?: number | undefined;
  /** Milliseconds LINE WORKS asked us to wait (Retry-After, else rateLimit-reset). */
  retryAfterMs?: number | undefined;
  /** A bare error code from the network layer (`ECONNREFUSED`, …). */
  causeCode?: string | undefined;
}

/**
 * Base class of every error the LINE WORKS client throws.
 *
 * @example
 * ```ts
 * try { await works.issueToken(app); }
 * catch (e) { if (e instanceof WorksError && e.code === "ERR_WORKS_RATE_LIMITED") retryIn(e.retryAfterMs); }
 * ```
 */
export class WorksError extends KagiyaError {
  declare readonly code: WorksErrorCode;
  readonly endpoint: string;
  readonly delivery: Delivery;
  /** True when the request may have taken effect (`delivery === "ambiguous"`). */
  readonly ambiguous: boolean;
  readonly attempts: number;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly causeCode: string | undefined;
  constructor(code: WorksErrorCode, message: string, fields: WorksErrorFields) {
    super(code, message);
    this.endpoint = fields.endpoint;
    this.delivery = fields.delivery;
    this.ambiguous = fields.delivery === "ambiguous";
    this.attempts = fields.attempts;
    this.status = fields.status;
    this.retryAfterMs = fields.retryAfterMs;
    this.causeCode = fields.causeCode;
  }
}

/** An error body in either of LINE WORKS' shapes, secrets redacted. */
export interface WorksErrorBody {
  /** RFC 6749 shape (auth server): `invalid_grant`, `invalid_client`, `invalid_scope`, … */
  error?: string | undefined;
  error_description?: string | undefined;
  /** API shape: `UNAUTHORIZED`, `TOO_MANY_REQUESTS`, … */
  code?: string | undefined;
  description?: string | undefined;
}

/**
 * LINE WORKS answered with an error status. `code` narrows the cases a caller acts on:
 * `ERR_WORKS_UNAUTHORIZED` (401, or 403 `{"code":"UNAUTHORIZED"}`: the access token is dead, mint a
 * new one), `ERR_WORKS_INVALID_GRANT` (assertion or refresh token refused), `ERR_WORKS_INVALID_CLIENT`,
 * `ERR_WORKS_INVALID_SCOPE`, `ERR_WORKS_RATE_LIMITED` (429), `ERR_WORKS_SERVER` (5xx, ambiguous),
 * else `ERR_WORKS_API`.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof WorksApiError && e.code === "ERR_WORKS_INVALID_GRANT") console.warn(e.errorDescription); }
 * ```
 */
export class WorksApiError extends WorksError {
  override readonly status: number;
  /** `error` (RFC 6749 shape). */
  readonly error: string | undefined;
  /** `error_description` (RFC 6749 shape), secrets redacted. */
  readonly errorDescription: string | undefined;
  /** `code` (API shape), e.g. `UNAUTHORIZED`. */
  readonly apiCode: string | undefined;
  /** `description` (API shape), secrets redacted. */
  readonly apiDescription: string | undefined;
  constructor(message: string, fields: WorksErrorFields & { status: number; body: WorksErrorBody }) {
    super(worksApiErrorCode(fields.status, fields.body), message, fields);
    this.status = fields.status;
    this.error = fields.body.error;
    this.errorDescription = fields.body.error_description;
    this.apiCode = fields.body.code;
    this.apiDescription = fields.body.description;
  }
}

/**
 * The code for an error answer.
 *
 * @example
 * ```ts
 * worksApiErrorCode(403, { code: "UNAUTHORIZED" }); // "ERR_WORKS_UNAUTHORIZED"
 * ```
 */
export function worksApiErrorCode(status: number, body: WorksErrorBody): WorksErrorCode {
  if (status === 429) return "ERR_WORKS_RATE_LIMITED";
  if (status >= 500) return "ERR_WORKS_SERVER";
  if (body.error === "invalid_grant") return "ERR_WORKS_INVALID_GRANT";
  if (body.error === "invalid_client") return "ERR_WORKS_INVALID_CLIENT";
  if (body.error === "invalid_scope") return "ERR_WORKS_INVALID_SCOPE";
  if (status === 401 || (status === 403 && body.code === "UNAUTHORIZED")) return "ERR_WORKS_UNAUTHORIZED";
  return "ERR_WORKS_API";
}

/**
 * LINE WORKS answered 2xx with a body that is not what it documents (not JSON, a missing token,
 * an `expires_in` that is neither a number nor a numeric string). Nothing was taken from it.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof WorksBadResponseError) console.warn(`bad ${e.field}`); }
 * ```
 */
export class WorksBadResponseError extends WorksError {
  /** The field at fault (`expires_in`, …), or `body`. */
  readonly field: string;
  constructor(message: string, fields: WorksErrorFields & { field: string }) {
    super("ERR_WORKS_BAD_RESPONSE", message, fields);
    this.field = fields.field;
  }
}
