/**
 * The token endpoint: code exchange and refresh, each split into building/sending the request and
 * validating the answer into a {@link TokenSet} (RFC 6749 §5.1, with LINE WORKS's string
 * `expires_in`), plus revocation (RFC 7009, or LINE's own shape).
 */
import { validateCallback, type PendingAuthorization } from "./authorize.ts";
import { authenticate, type OAuthClient } from "./client-auth.ts";
import { OAuthBadResponseError, OAuthError } from "./errors.ts";
import { endpointLabel, postForm, readJsonObject, responseError, type OAuthCallOptions } from "./http.ts";
import { validateIdToken, type IdTokenClaims } from "./id-token.ts";
import type { Provider } from "./provider.ts";

/**
 * The tokens of one grant, in kagiya's own (camelCase) shape. Times are epoch milliseconds.
 * It holds secrets: store it sealed, never log it.
 */
export interface TokenSet {
  accessToken: string;
  tokenType: "Bearer";
  /** When the access token expires, from `expires_in`; undefined when the server did not say. */
  expiresAt: number | undefined;
  refreshToken: string | undefined;
  /** Granted scopes (the server's `scope`, or the requested ones when it omitted it, RFC 6749 §5.1). */
  scope: string[];
  idToken: string | undefined;
  /** Claims of the validated ID token (kept from the login when a refresh returns none). */
  idTokenClaims: IdTokenClaims | undefined;
  /** When this set was received. */
  obtainedAt: number;
}

/** A request built and ready: what to send and which values errors must never show. */
interface BuiltTokenRequest {
  params: URLSearchParams;
  headers: Headers;
  secrets: string[];
}

async function buildTokenRequest(provider: Provider, client: OAuthClient, grant: Record<string, string>, now: number): Promise<BuiltTokenRequest> {
  const params = new URLSearchParams(grant);
  const headers = new Headers();
  const secrets = [...Object.entries(grant).filter(([k]) => k !== "grant_type" && k !== "redirect_uri").map(([, v]) => v)];
  secrets.push(...(await authenticate(client, provider.issuer, params, headers, now)));
  return { params, headers, secrets };
}

/**
 * Sends the authorization-code grant (RFC 6749 §4.1.3, with the PKCE verifier). Returns the raw
 * response for {@link processTokenResponse}.
 */
export async function authorizationCodeGrantRequest(provider: Provider, client: OAuthClient, code: string, pending: PendingAuthorization, options: OAuthCallOptions = {}): Promise<{ response: Response; secrets: string[] }> {
  const grant: Record<string, string> = { grant_type: "authorization_code", code, redirect_uri: pending.redirectUri };
  if (pending.codeVerifier !== undefined) grant["code_verifier"] = pending.codeVerifier;
  const built = await buildTokenRequest(provider, client, grant, (options.now ?? Date.now)());
  return { response: await postForm(provider.tokenEndpoint, built.params, built.headers, options), secrets: built.secrets };
}

/** Sends the refresh-token grant (RFC 6749 §6). */
export async function refreshTokenGrantRequest(provider: Provider, client: OAuthClient, refreshToken: string, options: OAuthCallOptions & { scope?: readonly string[] } = {}): Promise<{ response: Response; secrets: string[] }> {
  const grant: Record<string, string> = { grant_type: "refresh_token", refresh_token: refreshToken };
  if (options.scope && options.scope.length > 0) grant["scope"] = options.scope.join(" ");
  const built = await buildTokenRequest(provider, client, grant, (options.now ?? Date.now)());
  return { response: await postForm(provider.tokenEndpoint, built.params, built.headers, options), secrets: built.secrets };
}

/** What {@link processTokenResponse} checks the answer against. */
export interface TokenResponseExpectations extends OAuthCallOptions {
  /** The request's secrets (redacted from any error text). */
  secrets: readonly string[];
  /** The scopes asked for, used when the answer omits `scope`. */
  requestedScope: readonly string[];
  /** An ID token must be present and valid (a code exchange with `openid` at an OpenID provider). */
  requireIdToken: boolean;
  nonce?: string | undefined;
  /** The set being refreshed: its refresh token and ID token claims are kept when the answer has none. */
  previous?: TokenSet | undefined;
}

/**
 * Validates a token endpoint answer (RFC 6749 §5.1/§5.2): `access_token` a non-empty string,
 * `token_type` Bearer (any case), `expires_in` a non-negative number or numeric string, `scope` a
 * string, `refresh_token`/`id_token` strings when present, and the ID token when OpenID.
 *
 * @example
 * ```ts
 * const { response, secrets } = await refreshTokenGrantRequest(provider, client, old.refreshToken!);
 * const fresh = await processTokenResponse(provider, client, response, { secrets, requestedScope: old.scope, requireIdToken: false, previous: old });
 * ```
 */
export async function processTokenResponse(provider: Provider, client: OAuthClient, response: Response, expect: TokenResponseExpectations): Promise<TokenSet> {
  const endpoint = endpointLabel("POST", provider.tokenEndpoint);
  const body = await readJsonObject(response, endpoint, expect.secrets);
  if (typeof body["error"] === "string") throw responseError(response.status, body, endpoint, expect.secrets);
  const bad = (field: string, problem: string): never => { throw new OAuthBadResponseError(`${endpoint}: ${field} ${problem}`, field); };
  const accessToken = body["access_token"];
  if (typeof accessToken !== "string" || accessToken === "") bad("access_token", "is missing or not a string");
  const tokenType = body["token_type"];
  if (typeof tokenType !== "string" || tokenType.toLowerCase() !== "bearer") bad("token_type", "is not Bearer");
  const now = (expect.now ?? Date.now)();
  let expiresAt: number | undefined;
  const rawExpires = body["expires_in"];
  if (rawExpires !== undefined) {
    const seconds = typeof rawExpires === "number" ? rawExpires : typeof rawExpires === "string" && /^\d+$/.test(rawExpires.trim()) ? Number(rawExpires) : NaN;
    if (!Number.isFinite(seconds) || seconds < 0) bad("expires_in", "is not a non-negative number");
    expiresAt = now + Math.floor(seconds) * 1000;
  }
  const rawScope = body["scope"];
  if (rawScope !== undefined && typeof rawScope !== "string") bad("scope", "is not a string");
  for (const field of ["refresh_token", "id_token"]) {
    if (body[field] !== undefined && (typeof body[field] !== "string" || body[field] === "")) bad(field, "is not a non-empty string");
  }
  const idToken = body["id_token"] as string | undefined;
  let idTokenClaims = expect.previous?.idTokenClaims;
  if (expect.requireIdToken && idToken === undefined) bad("id_token", "is missing from an OpenID Connect answer");
  if (idToken !== undefined && provider.openid) {
    idTokenClaims = await validateIdToken(provider, client.clientId, idToken, {
      nonce: expect.requireIdToken ? expect.nonce : undefined,
      hmacSecret: client.auth.hmacSecret(),
      now: expect.now,
      fetch: expect.fetch,
      signal: expect.signal,
    });
    // A refreshed ID token must be about the same user (OpenID Connect Core §12.2).
    if (expect.previous?.idTokenClaims && idTokenClaims.sub !== expect.previous.idTokenClaims.sub) {
      throw new OAuthError("ERR_OAUTH_ID_TOKEN_CLAIM", "the refreshed ID token is about another user");
    }
  }
  return {
    accessToken: accessToken as string,
    tokenType: "Bearer",
    expiresAt,
    refreshToken: (body["refresh_token"] as string | undefined) ?? expect.previous?.refreshToken,
    scope: typeof rawScope === "string" ? rawScope.split(" ").filter((s) => s !== "") : [...(expect.previous?.scope ?? expect.requestedScope)],
    idToken: idToken ?? expect.previous?.idToken,
    idTokenClaims,
    obtainedAt: now,
  };
}

/**
 * The whole back half of a login: validates the callback ({@link validateCallback}), trades the
 * code, validates the answer and the ID token (with the login's nonce).
 *
 * @example
 * ```ts
 * const tokens = await exchangeCode(provider, client, pending, callbackUrl);
 * ```
 */
export async function exchangeCode(provider: Provider, client: OAuthClient, pending: PendingAuthorization, callback: URL | URLSearchParams | string, options: OAuthCallOptions = {}): Promise<TokenSet> {
  const { code } = validateCallback(provider, pending, callback);
  const { response, secrets } = await authorizationCodeGrantRequest(provider, client, code, pending, options);
  return processTokenResponse(provider, client, response, {
    ...options,
    secrets,
    requestedScope: pending.scope,
    requireIdToken: provider.openid && pending.scope.includes("openid"),
    nonce: pending.nonce,
  });
}

/**
 * Refreshes a token set (RFC 6749 §6). With rotation the answer's refresh token replaces the old
 * one; without, the old one is kept. Throws `ERR_OAUTH_INVALID_GRANT` when the refresh token is dead.
 *
 * @example
 * ```ts
 * tokens = await refreshTokens(provider, client, tokens);
 * ```
 */
export async function refreshTokens(provider: Provider, client: OAuthClient, tokens: TokenSet, options: OAuthCallOptions = {}): Promise<TokenSet> {
  if (!tokens.refreshToken) throw new OAuthError("ERR_OAUTH_REAUTH_REQUIRED", "this grant has no refresh token: log in again");
  const { response, secrets } = await refreshTokenGrantRequest(provider, client, tokens.refreshToken, options);
  return processTokenResponse(provider, client, response, { ...options, secrets, requestedScope: tokens.scope, requireIdToken: false, previous: tokens });
}

/**
 * Revokes a token: RFC 7009 (`token` + `token_type_hint`) or LINE's shape (`access_token`). A 200
 * answer is success whatever the token's state (RFC 7009 §2.2). Throws `ERR_OAUTH_CONFIG` when the
 * provider has no revocation endpoint.
 *
 * @example
 * ```ts
 * await revokeToken(provider, client, tokens.refreshToken!, "refresh_token");
 * ```
 */
export async function revokeToken(provider: Provider, client: OAuthClient, token: string, hint: "access_token" | "refresh_token", options: OAuthCallOptions = {}): Promise<void> {
  if (!provider.revocationEndpoint) throw new OAuthError("ERR_OAUTH_CONFIG", `provider ${provider.issuer} has no revocation endpoint`);
  const params = new URLSearchParams();
  if (provider.revocationStyle === "line") params.set("access_token", token);
  else {
    params.set("token", token);
    params.set("token_type_hint", hint);
  }
  const { response, endpoint, secrets } = await postAuthenticated(provider, client, provider.revocationEndpoint, token, params, options);
  if (response.status === 200) {
    await response.body?.cancel();
    return;
  }
  await readJsonObject(response, endpoint, secrets);
  throw new OAuthBadResponseError(`${endpoint}: HTTP ${response.status} is not a revocation answer`, "status");
}

/**
 * RFC 7662 introspection: is this token active at the provider? Throws `ERR_OAUTH_CONFIG` when the
 * provider has no introspection endpoint, and the provider's refusal otherwise.
 *
 * @example
 * ```ts
 * if (!(await introspectToken(provider, client, refreshToken, "refresh_token"))) console.log("ended");
 * ```
 */
export async function introspectToken(provider: Provider, client: OAuthClient, token: string, hint: "access_token" | "refresh_token", options: OAuthCallOptions = {}): Promise<boolean> {
  if (!provider.introspectionEndpoint) throw new OAuthError("ERR_OAUTH_CONFIG", `provider ${provider.issuer} has no introspection endpoint`);
  const params = new URLSearchParams({ token, token_type_hint: hint });
  const { response, endpoint, secrets } = await postAuthenticated(provider, client, provider.introspectionEndpoint, token, params, options);
  const body = await readJsonObject(response, endpoint, secrets);
  if (typeof body["active"] !== "boolean") throw new OAuthBadResponseError(`${endpoint}: the answer has no boolean "active"`, "active");
  return body["active"];
}

/** A form POST with client authentication; the token and the client's secrets are redacted from errors. */
async function postAuthenticated(provider: Provider, client: OAuthClient, url: string, token: string, params: URLSearchParams, options: OAuthCallOptions) {
  const headers = new Headers();
  const secrets = [token, ...(await authenticate(client, provider.issuer, params, headers, (options.now ?? Date.now)()))];
  return { response: await postForm(url, params, headers, options), endpoint: endpointLabel("POST", url), secrets };
}
