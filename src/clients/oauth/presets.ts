/**
 * Providers kagiya knows by name, as data: LINE Login v2.1 and LINE WORKS user accounts. A preset
 * is a {@link ProviderOptions} plus what the client side needs (client authentication method,
 * default scope, the API origins the token may be sent to, extra authorization parameters).
 * `origins` rewrites the production origins, which is how tests point a preset at the emulator.
 * Sources: reference/OAUTH-FACTS.md and reference/LINE-WORKS-FACTS.md.
 */
import type { ClientAuthMethod } from "./client-auth.ts";
import { OAuthError } from "./errors.ts";
import { defineProvider, type Provider, type ProviderOptions } from "./provider.ts";

/** A named provider and its client-side defaults. */
export interface OAuthPreset {
  readonly name: string;
  readonly provider: Readonly<ProviderOptions>;
  readonly clientAuthMethod: ClientAuthMethod;
  readonly defaultScope: readonly string[];
  /** Where the access token may be sent (the authorized fetch's `allowedOrigins`). */
  readonly apiOrigins: readonly string[];
  /** Authorization parameters the provider documents beyond the standard ones. */
  readonly authorizationParams: readonly string[];
  /** Whether the server rotates refresh tokens: `true`, `false`, or `maybe` (configurable per app). */
  readonly rotatesRefreshTokens: boolean | "maybe";
}

/**
 * LINE Login v2.1 (OAuth 2.0 + OpenID Connect). Web login signs ID tokens with HS256 keyed by the
 * channel secret; LIFF and the native SDKs with ES256 from the JWKS: both, and only both, are accepted.
 * No RFC 9207 `iss` parameter. Revocation takes `access_token`, `client_id`, `client_secret`.
 * Lifetimes (30-day access, refresh valid until 90 days after issue) come from the server's answers.
 */
export const LINE_LOGIN: OAuthPreset = deepFreeze({
  name: "line-login",
  provider: {
    issuer: "https://access.line.me",
    authorizationEndpoint: "https://access.line.me/oauth2/v2.1/authorize",
    tokenEndpoint: "https://api.line.me/oauth2/v2.1/token",
    revocationEndpoint: "https://api.line.me/oauth2/v2.1/revoke",
    userinfoEndpoint: "https://api.line.me/oauth2/v2.1/userinfo",
    jwksUri: "https://api.line.me/oauth2/v2.1/certs",
    openid: true,
    pkce: true,
    issParameterSupported: false,
    idTokenAlgorithms: ["HS256", "ES256"],
    revocationStyle: "line",
  },
  clientAuthMethod: "client_secret_post",
  defaultScope: ["profile", "openid"],
  apiOrigins: ["https://api.line.me"],
  authorizationParams: ["bot_prompt", "prompt", "max_age", "ui_locales", "initial_amr_display", "switch_amr", "disable_auto_login", "disable_ios_auto_login"],
  rotatesRefreshTokens: false,
});

/**
 * LINE WORKS user accounts (authorization code on auth.worksmobile.com, APIs on www.worksapis.com).
 * `expires_in` arrives as a string; rotation is a per-app setting; PKCE is not documented, so it is
 * off unless configured (`pkce: true` in `overrides`). RFC 7009-shaped revocation with the secret in the body.
 */
export const LINE_WORKS: OAuthPreset = deepFreeze({
  name: "line-works",
  provider: {
    issuer: "https://auth.worksmobile.com",
    authorizationEndpoint: "https://auth.worksmobile.com/oauth2/v2.0/authorize",
    tokenEndpoint: "https://auth.worksmobile.com/oauth2/v2.0/token",
    revocationEndpoint: "https://auth.worksmobile.com/oauth2/v2.0/revoke",
    openid: false,
    pkce: false,
    issParameterSupported: false,
    revocationStyle: "rfc7009",
  },
  clientAuthMethod: "client_secret_post",
  defaultScope: ["user.read"],
  apiOrigins: ["https://www.worksapis.com"],
  authorizationParams: ["domain"],
  rotatesRefreshTokens: "maybe",
});

/** Presets by name. */
export const OAUTH_PRESETS: Readonly<Record<string, OAuthPreset>> = Object.freeze({ "line-login": LINE_LOGIN, "line-works": LINE_WORKS });

/** Options of {@link presetProvider}. */
export interface PresetProviderOptions {
  /** Production origin → replacement (e.g. `{"https://api.line.me": emulator.url}`); the issuer string is kept. */
  origins?: Readonly<Record<string, string>>;
  /** Settings layered over the preset (e.g. `{ pkce: true }` for a LINE WORKS app that supports it). */
  overrides?: Partial<Omit<ProviderOptions, "issuer">>;
}

/**
 * Resolves a preset into a {@link Provider}. Throws `ERR_OAUTH_CONFIG` for an unknown name.
 *
 * @example
 * ```ts
 * const provider = presetProvider("line-login", { origins: { "https://access.line.me": emu.url, "https://api.line.me": emu.url } });
 * ```
 */
export function presetProvider(name: string, options: PresetProviderOptions = {}): Provider {
  const preset = Object.hasOwn(OAUTH_PRESETS, name) ? OAUTH_PRESETS[name] : undefined;
  if (!preset) throw new OAuthError("ERR_OAUTH_CONFIG", `unknown preset ${name} (known: ${Object.keys(OAUTH_PRESETS).join(", ")})`);
  const rewrite = (url: string | undefined): string | undefined => {
    if (url === undefined) return undefined;
    for (const [from, to] of Object.entries(options.origins ?? {})) {
      if (url === from || url.startsWith(`${from}/`)) return to.replace(/\/$/, "") + url.slice(from.length);
    }
    return url;
  };
  const p = preset.provider;
  return defineProvider({
    ...p,
    authorizationEndpoint: rewrite(p.authorizationEndpoint)!,
    tokenEndpoint: rewrite(p.tokenEndpoint)!,
    revocationEndpoint: rewrite(p.revocationEndpoint),
    userinfoEndpoint: rewrite(p.userinfoEndpoint),
    jwksUri: rewrite(p.jwksUri),
    ...options.overrides,
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
