/**
 * LINE WORKS' auth server: the service-account token (JWT bearer grant, RFC 7523), the
 * refresh-token grant and revoke. Results keep the wire names and are validated strictly; an
 * `expires_in` that is neither a JSON number nor a numeric string is refused (nothing is returned,
 * so nothing can be stored).
 */
import { InvalidInputError } from "../../core/errors.ts";
import { checkServiceAccount, checkWorksClientId, createWorksAssertion, parseWorksScopes } from "../../core/jwt/works-assertion.ts";
import { WORKS_JWT_BEARER_GRANT } from "../../core/jwt/works-rules.ts";
import type { AssertionKey } from "../../core/keys/import.ts";
import { optionalString, readObject, requiredString, TOKEN_CHARS, type BadBody, type JsonObject } from "../line/validate.ts";
import type { WorksHttp } from "./http.ts";

/** Client ID and Client Secret of a LINE WORKS app (refresh and revoke need only these). */
export interface WorksClientCredentials {
  clientId: string;
  /** Secret: never logged, never in an error. */
  clientSecret: string;
}

/** Everything a service-account token request needs. */
export interface WorksServiceAccountCredentials extends WorksClientCredentials {
  /** `xxxxx.serviceaccount@example.com`. */
  serviceAccount: string;
  /** The service account's private key, imported once with `importAssertionKey`. */
  privateKey: AssertionKey;
  /** Scopes, as a list or a comma- or space-separated string; sent space-separated. */
  scope: string | readonly string[];
}

/** Options every call takes. */
export interface WorksCallOptions {
  /** Aborts the call (and any pending retry sleep). */
  signal?: AbortSignal;
}

/** A token answer, validated. `access_token` and `refresh_token` are secrets. */
export interface WorksTokenResponse {
  access_token: string;
  /** Absent on a refresh when rotation is off: keep the refresh token you had. */
  refresh_token?: string;
  /** Granted scopes, parsed from the space-separated answer. */
  scope: string[];
  token_type: "Bearer";
  /** Seconds, parsed from the number or numeric string LINE WORKS sends. */
  expires_in: number;
}

const TOKEN_PATH = "/oauth2/v2.0/token";
const REVOKE_PATH = "/oauth2/v2.0/revoke";
const REFRESH_GRANT = "refresh_token";

function checkSecret(value: unknown, field: string): string {
  if (typeof value !== "string" || !TOKEN_CHARS.test(value)) {
    throw new InvalidInputError(`The ${field} must be a non-empty string of printable ASCII characters (the value is not shown).`, { field });
  }
  return value;
}

function scopeList(scope: string | readonly string[]): string[] {
  return parseWorksScopes(typeof scope === "string" ? scope : scope.join(" "));
}

/**
 * `expires_in` as LINE WORKS sends it: a JSON number or, in practice, a numeric string (`"86400"`).
 *
 * @example
 * ```ts
 * readExpiresIn({ expires_in: "86400" }, ctx); // 86400
 * ```
 */
export function readExpiresIn(o: JsonObject, ctx: BadBody): number {
  const v = o["expires_in"];
  if (v === undefined) ctx.bad("expires_in", "is missing");
  let n: number;
  if (typeof v === "number") n = v;
  else if (typeof v === "string" && /^\s*\d{1,10}\s*$/.test(v)) n = Number(v);
  else ctx.bad("expires_in", `is ${typeof v === "string" ? "a string that is not a whole number" : `a ${v === null ? "null" : typeof v}`}, not a number of seconds`);
  if (!Number.isSafeInteger(n) || n <= 0) ctx.bad("expires_in", "is not a positive whole number of seconds");
  return n;
}

function parseTokenAnswer(text: string, ctx: BadBody, requested: string[] | undefined): WorksTokenResponse {
  const o = readObject(text, ctx);
  const access_token = requiredString(o, "access_token", ctx);
  const refresh_token = optionalString(o, "refresh_token", ctx);
  if (refresh_token === "") ctx.bad("refresh_token", "is empty");
  const tokenType = requiredString(o, "token_type", ctx);
  // RFC 6749 §5.1: token_type is case-insensitive.
  if (tokenType.toLowerCase() !== "bearer") ctx.bad("token_type", 'is not "Bearer"');
  const expires_in = readExpiresIn(o, ctx);
  const scopeText = optionalString(o, "scope", ctx);
  const scope = scopeText === undefined || scopeText.trim() === "" ? (requested ?? []) : scopeText.split(/[\s,]+/).filter((s) => s !== "");
  const out: WorksTokenResponse = { access_token, scope, token_type: "Bearer", expires_in };
  if (refresh_token !== undefined) out.refresh_token = refresh_token;
  return out;
}

/**
 * Obtains an access token for a service account (POST /oauth2/v2.0/token with the JWT bearer
 * grant), signing a fresh assertion in LINE WORKS' corrected time for every attempt. Retried on
 * network errors, timeouts, 5xx and 429 (a second token is harmless: nothing is capped).
 *
 * @example
 * ```ts
 * const t = await issueWorksToken(http, { clientId, clientSecret, serviceAccount, privateKey, scope: "bot user.read" });
 * ```
 */
export async function issueWorksToken(http: WorksHttp, creds: WorksServiceAccountCredentials, options: WorksCallOptions = {}): Promise<WorksTokenResponse> {
  const clientId = checkWorksClientId(creds.clientId);
  const clientSecret = checkSecret(creds.clientSecret, "clientSecret");
  const serviceAccount = checkServiceAccount(creds.serviceAccount);
  if (creds.privateKey?.type !== "private") throw new InvalidInputError("privateKey must be imported with importAssertionKey.", { field: "privateKey" });
  const scopes = scopeList(creds.scope);
  return http.send({
    base: "auth",
    method: "POST",
    path: TOKEN_PATH,
    retry: "idempotent",
    usesAssertion: true,
    signal: options.signal,
    async build(serverNowMs) {
      const assertion = await createWorksAssertion(creds.privateKey, { clientId, serviceAccount, expiresIn: http.config.assertionLifetimeSeconds, now: serverNowMs });
      return {
        form: { assertion, grant_type: WORKS_JWT_BEARER_GRANT, client_id: clientId, client_secret: clientSecret, scope: scopes.join(" ") },
        secrets: [assertion, clientSecret],
      };
    },
    parse: (res, ctx) => parseTokenAnswer(res.text, ctx, scopes),
  });
}

/**
 * Trades a refresh token for a new access token (POST /oauth2/v2.0/token, `grant_type=refresh_token`).
 * With rotation on the answer carries a new `refresh_token` and the old one is dead; with rotation
 * off it carries none and the old one stays valid: keep it. Not retried once it may have reached
 * LINE WORKS (with rotation on, that attempt may already have spent the refresh token).
 *
 * @example
 * ```ts
 * const t = await refreshWorksToken(http, { clientId, clientSecret }, stored.refreshToken);
 * const refreshToken = t.refresh_token ?? stored.refreshToken;
 * ```
 */
export async function refreshWorksToken(http: WorksHttp, creds: WorksClientCredentials, refreshToken: string, options: WorksCallOptions = {}): Promise<WorksTokenResponse> {
  const clientId = checkWorksClientId(creds.clientId);
  const clientSecret = checkSecret(creds.clientSecret, "clientSecret");
  const token = checkSecret(refreshToken, "refreshToken");
  return http.send({
    base: "auth",
    method: "POST",
    path: TOKEN_PATH,
    retry: "unsafe",
    signal: options.signal,
    build: () => ({ form: { grant_type: REFRESH_GRANT, refresh_token: token, client_id: clientId, client_secret: clientSecret }, secrets: [token, clientSecret] }),
    parse: (res, ctx) => parseTokenAnswer(res.text, ctx, undefined),
  });
}

/**
 * Revokes an access or refresh token (POST /oauth2/v2.0/revoke). Idempotent: retried on network
 * errors, timeouts, 5xx and 429.
 *
 * @example
 * ```ts
 * await revokeWorksToken(http, { clientId, clientSecret }, accessToken);
 * ```
 */
export async function revokeWorksToken(http: WorksHttp, creds: WorksClientCredentials, token: string, options: WorksCallOptions = {}): Promise<void> {
  const clientId = checkWorksClientId(creds.clientId);
  const clientSecret = checkSecret(creds.clientSecret, "clientSecret");
  const value = checkSecret(token, "token");
  await http.send({
    base: "auth",
    method: "POST",
    path: REVOKE_PATH,
    retry: "idempotent",
    signal: options.signal,
    build: () => ({ form: { client_id: clientId, client_secret: clientSecret, token: value }, secrets: [value, clientSecret] }),
    parse: () => undefined,
  });
}
