/**
 * An authorization server as the client sees it: explicit endpoints ({@link defineProvider}) or
 * discovered from its issuer ({@link discoverProvider}: OpenID Connect Discovery, then RFC 8414),
 * resolved once into a frozen object. Discovery is split as oauth4webapi does: build the URL,
 * send it, validate the answer into typed metadata.
 */
import { OAuthError } from "./errors.ts";
import { checkUrl, endpointLabel, readJsonObject, send, type OAuthCallOptions } from "./http.ts";

/** How a provider expects revocation: RFC 7009's `token` (with `token_type_hint`) or LINE's `access_token`. */
export type RevocationStyle = "rfc7009" | "line";

/**
 * Explicit provider configuration. Unknown keys are refused.
 *
 * @example
 * ```ts
 * const provider = defineProvider({
 *   issuer: "https://auth.example.com",
 *   authorizationEndpoint: "https://auth.example.com/authorize",
 *   tokenEndpoint: "https://auth.example.com/token",
 * });
 * ```
 */
export interface ProviderOptions {
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  revocationEndpoint?: string | undefined;
  introspectionEndpoint?: string | undefined;
  userinfoEndpoint?: string | undefined;
  jwksUri?: string | undefined;
  /** An OpenID Connect provider: `nonce` is sent and ID tokens are validated. Default: true when `jwksUri` is set. */
  openid?: boolean | undefined;
  /** Send PKCE S256 (default true; false only for a provider declared not to support it). */
  pkce?: boolean | undefined;
  /** The provider sends `iss` in authorization responses (RFC 9207); it is then required. Default false. */
  issParameterSupported?: boolean | undefined;
  /** ID token algorithms accepted; anything else is refused. Default `["RS256"]`. `HS*` use the client secret. */
  idTokenAlgorithms?: readonly string[] | undefined;
  /** Default `rfc7009`. */
  revocationStyle?: RevocationStyle | undefined;
  /** Allow plain http endpoints off loopback (the seed's `OAUTHLIB_INSECURE_TRANSPORT`). Default false. */
  allowInsecureHttp?: boolean | undefined;
}

/** A resolved provider: every URL checked, every default filled in, frozen. */
export interface Provider {
  readonly issuer: string;
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  readonly revocationEndpoint: string | undefined;
  readonly introspectionEndpoint: string | undefined;
  readonly userinfoEndpoint: string | undefined;
  readonly jwksUri: string | undefined;
  readonly openid: boolean;
  readonly pkce: boolean;
  readonly issParameterSupported: boolean;
  readonly idTokenAlgorithms: readonly string[];
  readonly revocationStyle: RevocationStyle;
  readonly allowInsecureHttp: boolean;
}

const KEYS = new Set<string>([
  "issuer", "authorizationEndpoint", "tokenEndpoint", "revocationEndpoint", "introspectionEndpoint", "userinfoEndpoint",
  "jwksUri", "openid", "pkce", "issParameterSupported", "idTokenAlgorithms", "revocationStyle", "allowInsecureHttp",
]);
/** Asymmetric and HMAC algorithms the ID token check can use; `none` never. */
const KNOWN_ALGS = new Set(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519", "HS256", "HS384", "HS512"]);

/**
 * Validates explicit provider options into a frozen {@link Provider}. Throws `ERR_OAUTH_CONFIG`
 * (unknown key, malformed URL, unknown algorithm) or `ERR_OAUTH_INSECURE_HTTP`.
 *
 * @example
 * ```ts
 * const p = defineProvider({ issuer: "http://127.0.0.1:4000", authorizationEndpoint: "http://127.0.0.1:4000/auth", tokenEndpoint: "http://127.0.0.1:4000/token" });
 * p.pkce; // true
 * ```
 */
export function defineProvider(options: ProviderOptions): Provider {
  for (const key of Object.keys(options)) {
    if (!KEYS.has(key)) throw new OAuthError("ERR_OAUTH_CONFIG", `unknown provider option ${key}`);
  }
  const insecure = options.allowInsecureHttp === true;
  const url = (value: string | undefined, field: string): string | undefined =>
    value === undefined ? undefined : checkUrl(value, field, insecure).href;
  const issuer = checkUrl(options.issuer, "issuer", insecure);
  if (issuer.search !== "" || issuer.hash !== "") throw new OAuthError("ERR_OAUTH_CONFIG", "issuer must not have a query or fragment (RFC 8414 §2)");
  const algs = [...(options.idTokenAlgorithms ?? ["RS256"])];
  for (const alg of algs) if (!KNOWN_ALGS.has(alg)) throw new OAuthError("ERR_OAUTH_CONFIG", `ID token algorithm ${alg} is not supported`);
  if (algs.length === 0) throw new OAuthError("ERR_OAUTH_CONFIG", "idTokenAlgorithms is empty");
  const style = options.revocationStyle ?? "rfc7009";
  if (style !== "rfc7009" && style !== "line") throw new OAuthError("ERR_OAUTH_CONFIG", `unknown revocationStyle ${String(style)}`);
  return Object.freeze({
    // Kept exactly as given: `iss` comparisons are exact string matches (RFC 8414 §3.3, RFC 9207).
    issuer: options.issuer,
    authorizationEndpoint: url(options.authorizationEndpoint, "authorizationEndpoint")!,
    tokenEndpoint: url(options.tokenEndpoint, "tokenEndpoint")!,
    revocationEndpoint: url(options.revocationEndpoint, "revocationEndpoint"),
    introspectionEndpoint: url(options.introspectionEndpoint, "introspectionEndpoint"),
    userinfoEndpoint: url(options.userinfoEndpoint, "userinfoEndpoint"),
    jwksUri: url(options.jwksUri, "jwksUri"),
    openid: options.openid ?? options.jwksUri !== undefined,
    pkce: options.pkce ?? true,
    issParameterSupported: options.issParameterSupported ?? false,
    idTokenAlgorithms: Object.freeze(algs),
    revocationStyle: style,
    allowInsecureHttp: insecure,
  });
}

/** The fields of an RFC 8414 / OpenID discovery document the client uses (wire names). */
export interface ProviderMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  revocation_endpoint?: string;
  introspection_endpoint?: string;
  userinfo_endpoint?: string;
  jwks_uri?: string;
  code_challenge_methods_supported?: string[];
  authorization_response_iss_parameter_supported?: boolean;
  id_token_signing_alg_values_supported?: string[];
  [other: string]: unknown;
}

/** Which well-known document to read. */
export type DiscoveryKind = "oidc" | "oauth2";

/**
 * The well-known URL for an issuer: `{issuer}/.well-known/openid-configuration` (OpenID) or
 * `{origin}/.well-known/oauth-authorization-server{path}` (RFC 8414 §3.1).
 *
 * @example
 * ```ts
 * discoveryUrl("https://a.example/t1", "oauth2"); // "https://a.example/.well-known/oauth-authorization-server/t1"
 * ```
 */
export function discoveryUrl(issuer: string, kind: DiscoveryKind): string {
  const u = new URL(issuer);
  const path = u.pathname === "/" ? "" : u.pathname.replace(/\/$/, "");
  return kind === "oidc" ? `${u.origin}${path}/.well-known/openid-configuration` : `${u.origin}/.well-known/oauth-authorization-server${path}`;
}

/**
 * Validates a discovery answer: a JSON object whose `issuer` is exactly `expectedIssuer` and that
 * names the authorization and token endpoints. Throws `ERR_OAUTH_DISCOVERY` otherwise.
 */
export async function processDiscoveryResponse(expectedIssuer: string, response: Response): Promise<ProviderMetadata> {
  const endpoint = endpointLabel("GET", response.url || expectedIssuer);
  let body: Record<string, unknown>;
  try {
    body = await readJsonObject(response, endpoint, []);
  } catch (cause) {
    throw new OAuthError("ERR_OAUTH_DISCOVERY", `discovery for ${expectedIssuer} failed: ${(cause as Error).message}`, { cause });
  }
  if (body["issuer"] !== expectedIssuer) {
    throw new OAuthError("ERR_OAUTH_DISCOVERY", `discovery document names issuer ${JSON.stringify(body["issuer"])}, expected ${expectedIssuer} (RFC 8414 §3.3)`);
  }
  for (const field of ["authorization_endpoint", "token_endpoint"]) {
    if (typeof body[field] !== "string") throw new OAuthError("ERR_OAUTH_DISCOVERY", `discovery document of ${expectedIssuer} has no ${field}`);
  }
  for (const field of ["revocation_endpoint", "introspection_endpoint", "userinfo_endpoint", "jwks_uri"]) {
    if (body[field] !== undefined && typeof body[field] !== "string") throw new OAuthError("ERR_OAUTH_DISCOVERY", `discovery document of ${expectedIssuer}: ${field} is not a string`);
  }
  return body as ProviderMetadata;
}

/** Options of {@link discoverProvider}: overrides win over the document. */
export interface DiscoverOptions extends OAuthCallOptions {
  /** `oidc` (default) tries OpenID discovery first and RFC 8414 on a 404; `oauth2` reads RFC 8414 only. */
  kind?: DiscoveryKind;
  allowInsecureHttp?: boolean;
  /** Settings the document cannot express (e.g. `idTokenAlgorithms` for a provider that signs with HS256). */
  overrides?: Partial<Omit<ProviderOptions, "issuer" | "allowInsecureHttp">>;
  /** How long a discovered document is reused, ms (default 3,600,000). 0 disables the cache. */
  cacheMs?: number;
}

/** Default reuse of a discovery document: one hour. */
export const DISCOVERY_CACHE_MS = 3_600_000;

const cache = new Map<string, { at: number; metadata: Promise<ProviderMetadata> }>();

/**
 * Discovers a provider from its issuer and resolves it. Documents are cached per issuer for
 * `cacheMs`; concurrent calls share one request, and failures are not cached.
 *
 * @example
 * ```ts
 * const provider = await discoverProvider("https://accounts.example.com");
 * ```
 */
export async function discoverProvider(issuer: string, options: DiscoverOptions = {}): Promise<Provider> {
  checkUrl(issuer, "issuer", options.allowInsecureHttp === true);
  const kind = options.kind ?? "oidc";
  const now = (options.now ?? Date.now)();
  const ttl = options.cacheMs ?? DISCOVERY_CACHE_MS;
  const key = `${kind} ${issuer}`;
  let entry = cache.get(key);
  if (!entry || ttl === 0 || now - entry.at >= ttl) {
    entry = { at: now, metadata: fetchMetadata(issuer, kind, options) };
    if (ttl > 0) cache.set(key, entry);
    entry.metadata.catch(() => { if (cache.get(key) === entry) cache.delete(key); });
  }
  const m = await entry.metadata;
  const algs = m.id_token_signing_alg_values_supported?.filter((a) => a !== "none" && KNOWN_ALGS.has(a));
  return defineProvider({
    issuer,
    authorizationEndpoint: m.authorization_endpoint,
    tokenEndpoint: m.token_endpoint,
    revocationEndpoint: m.revocation_endpoint,
    introspectionEndpoint: m.introspection_endpoint,
    userinfoEndpoint: m.userinfo_endpoint,
    jwksUri: m.jwks_uri,
    openid: m.jwks_uri !== undefined && Array.isArray(m.id_token_signing_alg_values_supported),
    pkce: true,
    issParameterSupported: m.authorization_response_iss_parameter_supported === true,
    idTokenAlgorithms: algs && algs.length > 0 ? algs : undefined,
    allowInsecureHttp: options.allowInsecureHttp,
    ...options.overrides,
  });
}

async function fetchMetadata(issuer: string, kind: DiscoveryKind, options: DiscoverOptions): Promise<ProviderMetadata> {
  const get = (url: string) => send(url, { method: "GET", headers: { accept: "application/json" } }, options);
  let response = await get(discoveryUrl(issuer, kind));
  if (kind === "oidc" && response.status === 404) {
    await response.body?.cancel();
    response = await get(discoveryUrl(issuer, "oauth2"));
  }
  return processDiscoveryResponse(issuer, response);
}
