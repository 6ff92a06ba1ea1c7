/**
 * Errors of the OAuth 2.0 client. Every one is a {@link KagiyaError} with a stable `code` that
 * TypeScript can narrow on. No message and no field ever holds a token, code, code verifier,
 * client secret or assertion: a server's `error_description` is copied only after every secret of
 * the request has been redacted from it, and network causes are kept as a bare code.
 */
import { KagiyaError } from "../../core/errors.ts";

/** Stable codes of {@link OAuthError} and its subclasses. */
export type OAuthErrorCode =
  | "ERR_OAUTH_CONFIG"
  | "ERR_OAUTH_INSECURE_HTTP"
  | "ERR_OAUTH_DISCOVERY"
  | "ERR_OAUTH_STATE_MISMATCH"
  | "ERR_OAUTH_ISS_MISMATCH"
  | "ERR_OAUTH_ACCESS_DENIED"
  | "ERR_OAUTH_AUTHORIZATION_ERROR"
  | "ERR_OAUTH_CALLBACK_INVALID"
  | "ERR_OAUTH_INVALID_GRANT"
  | "ERR_OAUTH_INVALID_CLIENT"
  | "ERR_OAUTH_SERVER_ERROR"
  | "ERR_OAUTH_BAD_RESPONSE"
  | "ERR_OAUTH_NETWORK"
  | "ERR_OAUTH_ID_TOKEN_SIGNATURE"
  | "ERR_OAUTH_ID_TOKEN_ALG"
  | "ERR_OAUTH_ID_TOKEN_CLAIM"
  | "ERR_OAUTH_ID_TOKEN_NONCE"
  | "ERR_OAUTH_ORIGIN_NOT_ALLOWED"
  | "ERR_OAUTH_REAUTH_REQUIRED";

/** Every code, for documentation checks. */
export const OAUTH_ERROR_CODES: readonly OAuthErrorCode[] = Object.freeze([
  "ERR_OAUTH_CONFIG", "ERR_OAUTH_INSECURE_HTTP", "ERR_OAUTH_DISCOVERY", "ERR_OAUTH_STATE_MISMATCH",
  "ERR_OAUTH_ISS_MISMATCH", "ERR_OAUTH_ACCESS_DENIED", "ERR_OAUTH_AUTHORIZATION_ERROR", "ERR_OAUTH_CALLBACK_INVALID",
  "ERR_OAUTH_INVALID_GRANT", "ERR_OAUTH_INVALID_CLIENT", "ERR_OAUTH_SERVER_ERROR", "ERR_OAUTH_BAD_RESPONSE",
  "ERR_OAUTH_NETWORK", "ERR_OAUTH_ID_TOKEN_SIGNATURE", "ERR_OAUTH_ID_TOKEN_ALG", "ERR_OAUTH_ID_TOKEN_CLAIM",
  "ERR_OAUTH_ID_TOKEN_NONCE", "ERR_OAUTH_ORIGIN_NOT_ALLOWED", "ERR_OAUTH_REAUTH_REQUIRED",
] as const);

/**
 * Base class of every error the OAuth client throws.
 *
 * - `ERR_OAUTH_CONFIG`: a provider or client option is malformed (bad URL, unknown key);
 * - `ERR_OAUTH_INSECURE_HTTP`: an `http:` endpoint that is not loopback, without `allowInsecureHttp`;
 * - `ERR_OAUTH_DISCOVERY`: the metadata document is unreadable, misses a field, or names another issuer;
 * - `ERR_OAUTH_STATE_MISMATCH`, `ERR_OAUTH_ISS_MISMATCH`, `ERR_OAUTH_CALLBACK_INVALID`: the callback is not ours;
 * - `ERR_OAUTH_ACCESS_DENIED` / `ERR_OAUTH_AUTHORIZATION_ERROR`: the callback carries `error=`;
 * - `ERR_OAUTH_INVALID_GRANT` / `ERR_OAUTH_INVALID_CLIENT` / `ERR_OAUTH_SERVER_ERROR`: an endpoint answered an error;
 * - `ERR_OAUTH_BAD_RESPONSE`: a 2xx answer that is not what the RFCs require;
 * - `ERR_OAUTH_NETWORK`: no answer at all;
 * - `ERR_OAUTH_ID_TOKEN_*`: the ID token failed a check;
 * - `ERR_OAUTH_ORIGIN_NOT_ALLOWED`: the authorized fetch was asked to send the token elsewhere;
 * - `ERR_OAUTH_REAUTH_REQUIRED`: no usable token is left; the user must log in again.
 *
 * @example
 * ```ts
 * import { OAuthError } from "kagiya/oauth";
 * try { await exchangeCode(provider, client, pending, callbackUrl); }
 * catch (e) { if (e instanceof OAuthError && e.code === "ERR_OAUTH_STATE_MISMATCH") console.error("not our login"); }
 * ```
 */
export class OAuthError extends KagiyaError {
  declare readonly code: OAuthErrorCode;
  constructor(code: OAuthErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * An endpoint (token, revocation, discovery, JWKS) answered with an error status. `error` and
 * `errorDescription` are the server's own (RFC 6749 §5.2), secrets redacted.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof OAuthResponseError && e.code === "ERR_OAUTH_INVALID_GRANT") await loginAgain(); }
 * ```
 */
export class OAuthResponseError extends OAuthError {
  /** HTTP status of the answer. */
  readonly status: number;
  /** The server's `error` (`invalid_grant`, `invalid_client`, …), when it sent one. */
  readonly error: string | undefined;
  /** The server's `error_description`, secrets redacted. */
  readonly errorDescription: string | undefined;
  /** Method and URL path of the call, e.g. `POST /token` (never the query string). */
  readonly endpoint: string;
  constructor(message: string, fields: { status: number; error: string | undefined; errorDescription: string | undefined; endpoint: string }) {
    super(responseCode(fields.status, fields.error), message);
    this.status = fields.status;
    this.error = fields.error;
    this.errorDescription = fields.errorDescription;
    this.endpoint = fields.endpoint;
  }
}

function responseCode(status: number, error: string | undefined): OAuthErrorCode {
  if (error === "invalid_grant") return "ERR_OAUTH_INVALID_GRANT";
  if (error === "invalid_client" || status === 401) return "ERR_OAUTH_INVALID_CLIENT";
  return "ERR_OAUTH_SERVER_ERROR";
}

/**
 * The authorization response carried `error=` (RFC 6749 §4.1.2.1): `ERR_OAUTH_ACCESS_DENIED` when the
 * user or server refused, `ERR_OAUTH_AUTHORIZATION_ERROR` for any other error.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof OAuthAuthorizationError && e.code === "ERR_OAUTH_ACCESS_DENIED") console.error("login cancelled"); }
 * ```
 */
export class OAuthAuthorizationError extends OAuthError {
  /** The `error` parameter as received. */
  readonly error: string;
  /** The `error_description` parameter, when present. */
  readonly errorDescription: string | undefined;
  constructor(error: string, errorDescription: string | undefined) {
    super(error === "access_denied" ? "ERR_OAUTH_ACCESS_DENIED" : "ERR_OAUTH_AUTHORIZATION_ERROR",
      `the authorization server answered error=${error}${errorDescription ? ` (${errorDescription})` : ""}`);
    this.error = error;
    this.errorDescription = errorDescription;
  }
}

/**
 * A 2xx answer that breaks the protocol (no `access_token`, a `token_type` other than Bearer,
 * an `expires_in` that is not a number, a body that is not JSON, …). `field` names the culprit.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof OAuthBadResponseError) console.error(`bad ${e.field} from the token endpoint`); }
 * ```
 */
export class OAuthBadResponseError extends OAuthError {
  /** The field at fault, or `body` when the body itself is unreadable. */
  readonly field: string;
  constructor(message: string, field: string) {
    super("ERR_OAUTH_BAD_RESPONSE", message);
    this.field = field;
  }
}

/**
 * An ID token check failed. `check` names it: `signature`, `alg`, `iss`, `aud`, `azp`, `exp`, `iat`,
 * `sub`, `nonce`, `format`. The code is `ERR_OAUTH_ID_TOKEN_SIGNATURE`, `…_ALG`, `…_NONCE`, or
 * `…_CLAIM` for the rest.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof OAuthIdTokenError) console.error(`ID token refused: ${e.check}`); }
 * ```
 */
export class OAuthIdTokenError extends OAuthError {
  readonly check: string;
  constructor(check: string, message: string) {
    super(check === "signature" ? "ERR_OAUTH_ID_TOKEN_SIGNATURE" : check === "alg" ? "ERR_OAUTH_ID_TOKEN_ALG" : check === "nonce" ? "ERR_OAUTH_ID_TOKEN_NONCE" : "ERR_OAUTH_ID_TOKEN_CLAIM", message);
    this.check = check;
  }
}
