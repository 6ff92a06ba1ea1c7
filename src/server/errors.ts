import { KagiyaError } from "../core/errors.ts";

/**
 * An error the server answers with a JSON body `{"error": "<code>", "message": "..."}` and the given
 * HTTP status. Messages are shown to callers: they never carry a token, key or secret.
 *
 * @example
 * ```ts
 * throw new HttpError(404, "ERR_NOT_FOUND", "no route for GET /nope");
 * ```
 */
export class HttpError extends KagiyaError {
  /** HTTP status to answer with. */
  readonly status: number;
  /** Extra response headers (e.g. Retry-After, WWW-Authenticate). */
  readonly headers: Record<string, string>;
  constructor(status: number, code: string, message: string, options?: { headers?: Record<string, string>; cause?: unknown }) {
    super(code, message, options);
    this.status = status;
    this.headers = options?.headers ?? {};
  }
}

/** Configuration of `kagiya serve` / `startServer()` that cannot work (bad port, store spec...). */
export class ServerConfigError extends KagiyaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_SERVER_CONFIG", message, options);
  }
}

/** Every error code the server answers with, for docs and tests. */
export const SERVER_ERROR_CODES = [
  "ERR_UNAUTHORIZED",
  "ERR_FORBIDDEN",
  "ERR_NOT_FOUND",
  "ERR_METHOD_NOT_ALLOWED",
  "ERR_BAD_REQUEST",
  "ERR_INVALID_JSON",
  "ERR_INVALID_INPUT",
  "ERR_CHANNEL_ID_INVALID",
  "ERR_UNSUPPORTED_MEDIA_TYPE",
  "ERR_BODY_TOO_LARGE",
  "ERR_BODY_TIMEOUT",
  "ERR_HEADERS_TOO_LARGE",
  "ERR_RATE_LIMITED",
  "ERR_CSRF",
  "ERR_TOKEN_UNAVAILABLE",
  "ERR_TOKEN_BUDGET_EXHAUSTED",
  "ERR_CHANNEL_NOT_FOUND",
  "ERR_TOKEN_NOT_FOUND",
  "ERR_UNAVAILABLE",
  "ERR_LINE_*",
  "ERR_INTERNAL",
  "ERR_SERVER_CONFIG",
] as const;
