/**
 * An OAuth 2.0 provider registration (`kagiya oauth add NAME`): public configuration kept as the
 * `settings` of a credential of kind `oauth2` with ID NAME (its client secret in the row's sealed
 * `secrets.clientSecret`, so master-key rotation walks it). The same row is the command line's
 * single-user grant; web logins through `kagiya serve` are rows `NAME.<id>` whose settings
 * name the provider (`provider = NAME`) and hold no configuration of their own.
 *
 * Registrations are validated when written and resolved into a {@link Provider} and an
 * {@link OAuthClient} when used (discovery is cached per process by the OAuth client).
 *
 * @module
 */
import { InvalidInputError } from "../../core/errors.ts";
import {
  clientSecretBasic, clientSecretPost, defineProvider, discoverProvider, noClientAuth, OAUTH_PRESETS, presetProvider, scopeList,
  type ClientAuthMethod, type OAuthClient, type Provider,
} from "../../clients/oauth/index.ts";
import { checkUrl, isLoopbackHost } from "../../clients/oauth/http.ts";
import { OAuthError } from "../../clients/oauth/errors.ts";
import type { Channel } from "../../store/registry.ts";
import { clientKeyAuth } from "./client-key.ts";
import type { CredentialSettings } from "../../store/types.ts";

/** The kind's name, stored with every grant and registration. */
export const OAUTH2_KIND = "oauth2";

/** Provider names: grant IDs are `NAME.<16 random characters>`, within the 64 of a credential ID. */
export const PROVIDER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/;

/** Client authentication methods a registration may name (private_key_jwt: the credential's own private key, see ./client-key.ts). */
export const REGISTRATION_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"] as const;

/** A provider registration: public, never a secret. */
export interface OAuthRegistration {
  name: string;
  /** Preset name (`line-login`, `line-works`) when the endpoints come from one. */
  preset: string | undefined;
  /** The issuer: discovered from when `discovery`, else the ID tokens' `iss` (explicit endpoints: the token URL's origin). */
  issuer: string;
  discovery: boolean;
  authorizeUrl: string | undefined;
  tokenUrl: string | undefined;
  revokeUrl: string | undefined;
  userinfoUrl: string | undefined;
  clientId: string;
  authMethod: ClientAuthMethod;
  /** Space-separated scopes asked at login. */
  scope: string;
  /** The loopback redirect of `oauth login` (its port is used unless --port); undefined: any free port. */
  redirectUri: string | undefined;
  /** The callback of serve's web login, `https://HOST/oauth/NAME/callback`. */
  webRedirectUri: string | undefined;
  /** Where serve's web login sends the user back with `?grant=ID` (or `?error=CODE`). */
  returnUrl: string | undefined;
  /** Origins the token may be sent to (the authorized fetch's allow list). */
  apiOrigins: string[];
  allowInsecure: boolean;
  /** Extra authorization parameters (LINE Login's `bot_prompt`, `login_hint`, …). */
  authParams: Record<string, string>;
  /** With `private_key_jwt`: the algorithm the client key signs with (the key and its ID are the credential's). */
  keyAlg?: string | undefined;
}

/** Base URLs that replace LINE's production origins for presets (development against the emulator). */
export interface PresetOrigins {
  [production: string]: string;
}

/**
 * Production origins → replacements from the environment: `KAGIYA_LINE_LOGIN_BASE` (access.line.me),
 * `KAGIYA_LINE_API_BASE` (api.line.me), `KAGIYA_WORKS_AUTH_BASE` (auth.worksmobile.com).
 */
export function presetOriginsFromEnv(env: Record<string, string | undefined>): PresetOrigins {
  const out: PresetOrigins = {};
  const map: Array<[string, string]> = [["https://access.line.me", "KAGIYA_LINE_LOGIN_BASE"], ["https://api.line.me", "KAGIYA_LINE_API_BASE"], ["https://auth.worksmobile.com", "KAGIYA_WORKS_AUTH_BASE"]];
  for (const [origin, name] of map) {
    const v = env[name];
    if (v !== undefined && v !== "") out[origin] = v.replace(/\/$/, "");
  }
  return out;
}

/** Whether `env` allows plain http off loopback (the seed's OAUTHLIB_INSECURE_TRANSPORT). */
export function insecureHttpAllowed(env: Record<string, string | undefined>): boolean {
  return env["KAGIYA_ALLOW_INSECURE_HTTP"] === "1";
}

/** Checks a provider name (exit 2 with one line otherwise). */
export function checkProviderName(name: unknown, field = "NAME"): string {
  if (typeof name !== "string" || !PROVIDER_NAME_PATTERN.test(name)) {
    const shown = typeof name === "string" ? JSON.stringify(name.slice(0, 40)) : typeof name;
    throw new InvalidInputError(`provider name ${shown} is not valid: 1 to 40 letters, digits, "_" and "-", starting with a letter or digit`, { field });
  }
  return name;
}

/** A URL flag: absolute, https or loopback http (or any http with `insecure`); one line naming the flag otherwise. */
export function checkEndpoint(value: string, flag: string, insecure: boolean): string {
  try {
    return checkUrl(value, flag, insecure).href;
  } catch (error) {
    const e = error as OAuthError;
    const hint = e.code === "ERR_OAUTH_INSECURE_HTTP" ? " (or pass --allow-insecure / set KAGIYA_ALLOW_INSECURE_HTTP=1)" : "";
    throw new InvalidInputError(`${flag}: ${e.message}${hint}`, { field: flag, code: e.code });
  }
}

/** Checks an origin for `--api-origin` and returns it as an origin (no path). */
export function checkApiOrigin(value: string, insecure: boolean): string {
  return new URL(checkEndpoint(value, "--api-origin", insecure)).origin;
}

/** A loopback redirect URI for `oauth login`: http, 127.0.0.1/::1/localhost, no fragment. */
export function checkLoopbackRedirect(value: string, flag: string): URL {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new InvalidInputError(`${flag} is not an absolute URL`, { field: flag });
  }
  if (u.protocol !== "http:" || !isLoopbackHost(u.hostname) || u.hash !== "") {
    throw new InvalidInputError(`${flag} ${u.origin} is not a loopback redirect: oauth login listens on http://127.0.0.1:PORT/PATH (RFC 8252 §7.3); web logins go through kagiya serve (--web-redirect-uri)`, { field: flag });
  }
  return u;
}

/** The settings stored for a registration (flat: settings hold strings, numbers and booleans). */
export function registrationSettings(r: OAuthRegistration): CredentialSettings {
  const s: CredentialSettings = { issuer: r.issuer, discovery: r.discovery, clientId: r.clientId, authMethod: r.authMethod, scope: r.scope, apiOrigins: r.apiOrigins.join(" "), allowInsecure: r.allowInsecure };
  const optional: Array<[string, string | undefined]> = [
    ["preset", r.preset], ["authorizeUrl", r.authorizeUrl], ["tokenUrl", r.tokenUrl], ["revokeUrl", r.revokeUrl], ["userinfoUrl", r.userinfoUrl],
    ["redirectUri", r.redirectUri], ["webRedirectUri", r.webRedirectUri], ["returnUrl", r.returnUrl], ["keyAlg", r.keyAlg],
  ];
  for (const [k, v] of optional) if (v !== undefined) s[k] = v;
  if (Object.keys(r.authParams).length > 0) s["authParams"] = new URLSearchParams(r.authParams).toString();
  return s;
}

/** True for a per-user grant row (settings name its provider), false for a registration. */
export function isWebGrant(credential: Pick<Channel, "settings">): boolean {
  return typeof credential.settings["provider"] === "string";
}

/** The provider name of a grant ID: `NAME` or `NAME.<id>`. */
export function providerNameOf(grantId: string): string {
  const dot = grantId.indexOf(".");
  return dot === -1 ? grantId : grantId.slice(0, dot);
}

/** Reads a registration back from its credential's settings (InvalidInputError naming a broken setting). */
export function registrationOf(credential: Pick<Channel, "channelId" | "settings">): OAuthRegistration {
  const s = credential.settings;
  const str = (k: string): string | undefined => (typeof s[k] === "string" ? (s[k] as string) : undefined);
  const need = (k: string): string => {
    const v = str(k);
    if (v === undefined || v === "") throw new InvalidInputError(`credential ${credential.channelId}: settings.${k} is missing (register it again with kagiya oauth add)`, { field: `settings.${k}` });
    return v;
  };
  const authMethod = need("authMethod");
  if (!(REGISTRATION_AUTH_METHODS as readonly string[]).includes(authMethod)) throw new InvalidInputError(`credential ${credential.channelId}: settings.authMethod ${authMethod} is not supported`, { field: "settings.authMethod" });
  return {
    name: credential.channelId,
    preset: str("preset"),
    issuer: need("issuer"),
    discovery: s["discovery"] === true,
    authorizeUrl: str("authorizeUrl"),
    tokenUrl: str("tokenUrl"),
    revokeUrl: str("revokeUrl"),
    userinfoUrl: str("userinfoUrl"),
    clientId: need("clientId"),
    authMethod: authMethod as ClientAuthMethod,
    scope: str("scope") ?? "",
    redirectUri: str("redirectUri"),
    webRedirectUri: str("webRedirectUri"),
    returnUrl: str("returnUrl"),
    apiOrigins: scopeList(str("apiOrigins")),
    allowInsecure: s["allowInsecure"] === true,
    authParams: Object.fromEntries(new URLSearchParams(str("authParams") ?? "")),
    keyAlg: str("keyAlg"),
  };
}

/** A registration resolved for use: the provider, the client, and where its tokens may go. */
export interface ResolvedRegistration {
  registration: OAuthRegistration;
  provider: Provider;
  client: OAuthClient;
  /** `apiOrigins`, with preset origins rewritten like the endpoints. */
  apiOrigins: string[];
  /** Extra authorization parameters (the registration's `authParams`). */
  params: Record<string, string>;
}

/** Options of {@link resolveRegistration}. */
export interface ResolveOptions {
  origins?: PresetOrigins;
  fetch?: typeof fetch;
  now?: () => number;
  /** Discovery cache, ms (default the client's one hour). */
  cacheMs?: number;
}

/**
 * Resolves a registration into a provider (discovering it when registered by issuer) and a client.
 * Throws the OAuth client's errors (`ERR_OAUTH_DISCOVERY`, `ERR_OAUTH_INSECURE_HTTP`, …).
 */
export async function resolveRegistration(r: OAuthRegistration, client: string | undefined | Pick<Channel, "secrets" | "privateKey" | "kid">, options: ResolveOptions = {}): Promise<ResolvedRegistration> {
  const clientSecret = typeof client === "object" ? client.secrets["clientSecret"] : client;
  const origins = options.origins ?? {};
  const insecure = r.allowInsecure;
  let provider: Provider;
  if (r.preset !== undefined) {
    provider = presetProvider(r.preset, { origins, overrides: { allowInsecureHttp: insecure } });
  } else if (r.discovery) {
    provider = await discoverProvider(r.issuer, { allowInsecureHttp: insecure, ...(options.fetch ? { fetch: options.fetch } : {}), ...(options.now ? { now: options.now } : {}), ...(options.cacheMs !== undefined ? { cacheMs: options.cacheMs } : {}) });
  } else {
    provider = defineProvider({ issuer: r.issuer, authorizationEndpoint: r.authorizeUrl!, tokenEndpoint: r.tokenUrl!, revocationEndpoint: r.revokeUrl, userinfoEndpoint: r.userinfoUrl, openid: false, allowInsecureHttp: insecure });
  }
  const auth = r.authMethod === "none" ? noClientAuth()
    : r.authMethod === "private_key_jwt" ? await clientKeyAuth(typeof client === "object" ? (client.privateKey as Record<string, unknown>) : missingKey(r), r.keyAlg ?? "RS256", typeof client === "object" ? client.kid : "")
    : clientSecret === undefined ? missingSecret(r)
    : r.authMethod === "client_secret_post" ? clientSecretPost(clientSecret) : clientSecretBasic(clientSecret);
  const rewrite = (o: string): string => origins[o] ?? o;
  return { registration: r, provider, client: { clientId: r.clientId, auth }, apiOrigins: r.apiOrigins.map(rewrite), params: { ...r.authParams } };
}

function missingKey(r: OAuthRegistration): never {
  throw new InvalidInputError(`provider ${r.name}: private_key_jwt needs the registration's private key (resolve it with the credential, not a secret)`, { field: "privateKey" });
}

function missingSecret(r: OAuthRegistration): never {
  throw new InvalidInputError(`provider ${r.name}: the client secret is missing (register it again with kagiya oauth add --client-secret-env VAR)`, { field: "secrets.clientSecret" });
}

/** The preset a name refers to, or InvalidInputError naming the known ones. */
export function checkPreset(name: string): (typeof OAUTH_PRESETS)[string] {
  const preset = Object.hasOwn(OAUTH_PRESETS, name) ? OAUTH_PRESETS[name] : undefined;
  if (preset === undefined) throw new InvalidInputError(`unknown preset ${JSON.stringify(name.slice(0, 40))} (known: ${Object.keys(OAUTH_PRESETS).join(", ")})`, { field: "--preset" });
  return preset;
}

/** Parameters the client sets itself: never taken from `--auth-param`. */
const RESERVED_AUTH_PARAMS = new Set(["response_type", "client_id", "redirect_uri", "state", "nonce", "code_challenge", "code_challenge_method", "scope"]);

/**
 * Parses `--auth-param NAME=VALUE` flags. A preset accepts only the parameters it documents
 * (LINE Login: bot_prompt, prompt, …); protocol parameters are never accepted.
 */
export function parseAuthParams(values: readonly string[], preset: { name: string; authorizationParams: readonly string[] } | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf("=");
    const name = eq === -1 ? "" : v.slice(0, eq);
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name) || v.length > 1024) throw new InvalidInputError(`--auth-param must be NAME=VALUE, not ${JSON.stringify(v.slice(0, 40))}`, { field: "--auth-param" });
    if (RESERVED_AUTH_PARAMS.has(name)) throw new InvalidInputError(`--auth-param ${name} is set by kagiya itself`, { field: "--auth-param" });
    if (preset !== undefined && !preset.authorizationParams.includes(name)) {
      throw new InvalidInputError(`--auth-param ${name} is not a parameter of ${preset.name} (known: ${preset.authorizationParams.join(", ")})`, { field: "--auth-param" });
    }
    out[name] = v.slice(eq + 1);
  }
  return out;
}
