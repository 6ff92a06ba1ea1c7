/**
 * The front channel: the authorization URL (PKCE S256, `state`, `nonce` for OpenID, `prompt=consent`
 * with `offline_access`) and the validation of the redirect back (RFC 9207 `iss`, `state`, `error=`).
 */
import { OAuthAuthorizationError, OAuthError } from "./errors.ts";
import { checkUrl, randomToken, safeEqual } from "./http.ts";
import type { Provider } from "./provider.ts";
import { encodeBase64url } from "../../core/base64url.ts";

/** Options of {@link createAuthorizationRequest}. */
export interface AuthorizationRequestOptions {
  clientId: string;
  /** Exact redirect URI registered with the provider (https, loopback http, or a private-use scheme). */
  redirectUri: string;
  /** Scopes, as a list or a space-separated string. */
  scope?: string | readonly string[];
  /** Extra parameters (`bot_prompt`, `login_hint`, `prompt`, …); protocol parameters cannot be overridden. */
  params?: Readonly<Record<string, string>>;
}

/**
 * What must be kept between the redirect to the provider and the callback. It holds the PKCE
 * verifier and the nonce: keep it server-side (or in memory for a command line), never in the URL.
 */
export interface PendingAuthorization {
  /** The URL to send the user to. */
  readonly url: string;
  readonly state: string;
  readonly nonce: string | undefined;
  readonly codeVerifier: string | undefined;
  readonly redirectUri: string;
  readonly scope: readonly string[];
}

const RESERVED = new Set(["response_type", "client_id", "redirect_uri", "state", "nonce", "code_challenge", "code_challenge_method", "scope"]);

/** Splits scopes into a list without duplicates. */
export function scopeList(scope: string | readonly string[] | undefined): string[] {
  const list = typeof scope === "string" ? scope.split(" ") : [...(scope ?? [])];
  return [...new Set(list.filter((s) => s !== ""))];
}

/**
 * Builds an authorization request with fresh `state`, `nonce` (OpenID) and PKCE S256 verifier.
 * `prompt=consent` is added when `offline_access` is asked of an OpenID provider (OpenID Connect
 * Core §11), unless a `prompt` is given.
 *
 * @example
 * ```ts
 * const pending = await createAuthorizationRequest(provider, { clientId: "app", redirectUri: "http://127.0.0.1:8123/callback", scope: "openid offline_access" });
 * console.error(`open ${pending.url}`);
 * ```
 */
export async function createAuthorizationRequest(provider: Provider, options: AuthorizationRequestOptions): Promise<PendingAuthorization> {
  if (typeof options.clientId !== "string" || options.clientId === "") throw new OAuthError("ERR_OAUTH_CONFIG", "clientId is empty");
  checkRedirectUri(options.redirectUri, provider.allowInsecureHttp);
  const scope = scopeList(options.scope);
  const url = new URL(provider.authorizationEndpoint);
  const q = url.searchParams;
  q.set("response_type", "code");
  q.set("client_id", options.clientId);
  q.set("redirect_uri", options.redirectUri);
  if (scope.length > 0) q.set("scope", scope.join(" "));
  const state = randomToken();
  q.set("state", state);
  let nonce: string | undefined;
  if (provider.openid && scope.includes("openid")) {
    nonce = randomToken();
    q.set("nonce", nonce);
  }
  let codeVerifier: string | undefined;
  if (provider.pkce) {
    codeVerifier = randomToken();
    q.set("code_challenge", await pkceChallenge(codeVerifier));
    q.set("code_challenge_method", "S256");
  }
  for (const [k, v] of Object.entries(options.params ?? {})) {
    if (RESERVED.has(k)) throw new OAuthError("ERR_OAUTH_CONFIG", `authorization parameter ${k} is set by the client and cannot be overridden`);
    q.set(k, v);
  }
  if (provider.openid && scope.includes("offline_access") && !q.has("prompt")) q.set("prompt", "consent");
  return Object.freeze({ url: url.href, state, nonce, codeVerifier, redirectUri: options.redirectUri, scope: Object.freeze(scope) });
}

/** RFC 7636 §4.2: BASE64URL(SHA-256(ASCII(code_verifier))). */
export async function pkceChallenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return encodeBase64url(new Uint8Array(digest));
}

function checkRedirectUri(value: string, allowInsecureHttp: boolean): void {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new OAuthError("ERR_OAUTH_CONFIG", "redirectUri is not an absolute URL");
  }
  if (u.hash !== "") throw new OAuthError("ERR_OAUTH_CONFIG", "redirectUri must not have a fragment (RFC 6749 §3.1.2)");
  // https and loopback http are checked like endpoints; a private-use scheme (RFC 8252 §7.1) passes.
  if (u.protocol === "http:" || u.protocol === "https:") checkUrl(value, "redirectUri", allowInsecureHttp);
}

/**
 * Validates the redirect back from the provider and returns the authorization code. Checks, in order:
 * `iss` (RFC 9207: required when the provider advertises it, compared whenever present), `state`,
 * `error=`, then `code`.
 *
 * @example
 * ```ts
 * const { code } = validateCallback(provider, pending, new URL(req.url!, "http://127.0.0.1"));
 * ```
 */
export function validateCallback(provider: Provider, pending: PendingAuthorization, callback: URL | URLSearchParams | string): { code: string } {
  const params = callbackParams(callback);
  for (const [k] of params) if (params.getAll(k).length > 1) throw new OAuthError("ERR_OAUTH_CALLBACK_INVALID", `callback parameter ${k} is repeated`);
  const iss = params.get("iss");
  if (iss === null && provider.issParameterSupported) {
    throw new OAuthError("ERR_OAUTH_ISS_MISMATCH", "the callback has no iss parameter although the provider advertises it (RFC 9207): possible mix-up attack");
  }
  if (iss !== null && !safeEqual(iss, provider.issuer)) {
    throw new OAuthError("ERR_OAUTH_ISS_MISMATCH", `the callback comes from issuer ${JSON.stringify(iss.slice(0, 200))}, expected ${provider.issuer} (RFC 9207): possible mix-up attack`);
  }
  const state = params.get("state");
  if (state === null || !safeEqual(state, pending.state)) {
    throw new OAuthError("ERR_OAUTH_STATE_MISMATCH", state === null ? "the callback has no state parameter" : "the callback's state does not match this login attempt");
  }
  const error = params.get("error");
  if (error !== null) throw new OAuthAuthorizationError(error.slice(0, 200), params.get("error_description")?.slice(0, 500) ?? undefined);
  const code = params.get("code");
  if (code === null || code === "") throw new OAuthError("ERR_OAUTH_CALLBACK_INVALID", "the callback has no code parameter");
  if (params.has("id_token") || params.has("access_token")) throw new OAuthError("ERR_OAUTH_CALLBACK_INVALID", "the callback carries tokens: only the code flow is accepted");
  return { code };
}

function callbackParams(callback: URL | URLSearchParams | string): URLSearchParams {
  if (callback instanceof URLSearchParams) return callback;
  if (callback instanceof URL) return callback.searchParams;
  if (/^[a-z][a-z0-9+.-]*:/i.test(callback)) {
    try {
      return new URL(callback).searchParams;
    } catch {
      throw new OAuthError("ERR_OAUTH_CALLBACK_INVALID", "the callback URL cannot be parsed");
    }
  }
  return new URLSearchParams(callback.startsWith("?") ? callback.slice(1) : callback);
}
