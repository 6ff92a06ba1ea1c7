/**
 * OAuth 2.0 grants outside the engine's refresh path: what a login stores (the grant, sealed, by
 * compare-and-set, and its first access token as the credential's current token), revocation of a
 * grant at the provider, the listing (never a token), and a {@link TokenHolder} over the engine for
 * the authorized fetch. Used by `kagiya oauth` and by serve's web login.
 *
 * @module
 */
import { createAuthorizedFetch, revokeToken, type AuthorizedFetch, type TokenHolder, type TokenSet } from "../clients/oauth/index.ts";
import { derivedKeyId } from "../kinds/derived-key-id.ts";
import { OAUTH_KEY_PREFIX, oauthGrantSecret } from "../kinds/oauth2/index.ts";
import {
  insecureHttpAllowed, isWebGrant, OAUTH2_KIND, presetOriginsFromEnv, registrationOf, resolveRegistration, type ResolvedRegistration,
} from "../kinds/oauth2/registration.ts";
import { InvalidInputError } from "../core/errors.ts";
import { ChannelNotFoundError } from "../store/errors.ts";
import type { ChannelRegistry, RegistryStore } from "../store/registry.ts";
import type { ChannelRow, GrantStore, TokenStore } from "../store/types.ts";
import type { ObtainedToken } from "./kind.ts";
import type { TokenManager } from "./manager.ts";
import type { ManagedToken } from "./types.ts";
import type { TokenSource } from "./types.ts";

/** The registration row NAME, or ChannelNotFoundError; another kind's credential is refused. */
export async function registrationRow(ctx: { store: Pick<RegistryStore, "getChannel"> }, name: string): Promise<ChannelRow> {
  const row = await ctx.store.getChannel(name);
  if (row === null || (row.kind === OAUTH2_KIND && isWebGrant(row))) throw new ChannelNotFoundError(name);
  if (row.kind !== OAUTH2_KIND) throw new InvalidInputError(`${name} is a ${row.kind} credential, not an OAuth provider`, { field: "NAME" });
  return row;
}

/** What these functions need of a token context. */
export interface GrantContext {
  registry: ChannelRegistry<RegistryStore & TokenStore & GrantStore>;
  store: RegistryStore & TokenStore & GrantStore;
}

/** Assumed lifetime of an access token whose answer had no `expires_in` (RFC 6749 §5.1 leaves it optional), seconds. */
export const DEFAULT_ACCESS_TOKEN_SECONDS = 3600;

/** The credential row holding the registration a grant uses: itself, or its provider for a web grant. */
export async function registrationRowOf(store: Pick<RegistryStore, "getChannel">, row: Pick<ChannelRow, "channelId" | "settings">): Promise<ChannelRow> {
  if (!isWebGrant(row)) return row as ChannelRow;
  const name = row.settings["provider"] as string;
  const provider = await store.getChannel(name);
  if (provider === null) throw new ChannelNotFoundError(name);
  return provider;
}

/**
 * The provider and client of a grant (or registration) by credential ID, from the store. `env`
 * gives the preset origins (KAGIYA_LINE_LOGIN_BASE, …) and KAGIYA_ALLOW_INSECURE_HTTP.
 */
export async function resolveGrantProvider(ctx: GrantContext, id: string, options: { env: Record<string, string | undefined>; insecure?: boolean }): Promise<ResolvedRegistration> {
  const channel = await ctx.registry.require(id);
  const source = isWebGrant(channel) ? await ctx.registry.require(channel.settings["provider"] as string) : channel;
  const registration = registrationOf(source);
  if (options.insecure === true || insecureHttpAllowed(options.env)) registration.allowInsecure = true;
  return resolveRegistration(registration, source, { origins: presetOriginsFromEnv(options.env) });
}

/**
 * What a login returned, as the engine takes it ({@link TokenManager.adopt}): the access token and,
 * when there is a refresh token, the grant to keep (refresh token, granted scope, ID token claims).
 *
 * @example
 * ```ts
 * await manager.adopt("acme", loginObtained(await exchangeCode(provider, client, pending, callbackUrl)));
 * ```
 */
export function loginObtained(tokens: TokenSet): ObtainedToken {
  const seconds = tokens.expiresAt === undefined ? DEFAULT_ACCESS_TOKEN_SECONDS : Math.max(1, Math.floor((tokens.expiresAt - tokens.obtainedAt) / 1000));
  return {
    accessToken: tokens.accessToken,
    keyId: derivedKeyId(OAUTH_KEY_PREFIX, tokens.accessToken),
    expiresIn: seconds,
    ...(tokens.refreshToken !== undefined ? { grant: oauthGrantSecret(tokens) } : {}),
  };
}

/**
 * Stores what a login returned through the engine: the grant sealed (compare-and-set), then the
 * access token as the credential's current token, so the first call after a login needs no
 * refresh. A login without a refresh token stores the access token only (the grant ends with it).
 *
 * @example
 * ```ts
 * await storeLoginGrant(ctx.manager, "acme", tokens);
 * ```
 */
export function storeLoginGrant(tokens: Pick<TokenManager, "adopt">, id: string, set: TokenSet, actor = "cli"): Promise<ManagedToken> {
  return tokens.adopt(id, loginObtained(set), { actor });
}

/** What {@link revokeGrant} did: revoked at the provider, nothing to revoke, or forgotten here only (the provider has no revocation endpoint). */
export type GrantRevocation = "revoked" | "none" | "forgotten";

/**
 * Revokes a credential's grant at the provider (its refresh token, which ends the grant under RFC
 * 7009 §2.1; LINE's endpoint takes the access token) and marks the grant `reauth_required` and its
 * tokens revoked. A provider without a revocation endpoint: the grant is only marked here
 * (`forgotten`; it stays valid at the provider until it expires). Throws the provider's refusal
 * (nothing changed).
 *
 * @example
 * ```ts
 * if ((await revokeGrant(ctx, "acme", { env: process.env })) === "revoked") console.log("revoked");
 * ```
 */
export async function revokeGrant(ctx: GrantContext, id: string, options: { env: Record<string, string | undefined>; insecure?: boolean }): Promise<GrantRevocation> {
  const state = await ctx.store.getGrant(id);
  const rows = (await ctx.store.listTokens(id)).filter((r) => r.state === "valid" && r.accessToken !== null);
  const active = state !== null && state.status === "active";
  if (!active && rows.length === 0) return "none";
  const resolved = await resolveGrantProvider(ctx, id, options);
  const { provider, client } = resolved;
  if (provider.revocationEndpoint !== undefined) {
    if (active && provider.revocationStyle !== "line") await revokeToken(provider, client, ctx.registry.openGrant(state).refreshToken, "refresh_token");
    else for (const r of rows) await revokeToken(provider, client, ctx.registry.openAccessToken(r), "access_token");
  }
  const at = Date.now();
  if (active) await ctx.store.swapGrant(id, state.version, { secret: state.secret, status: "reauth_required", updatedAt: at });
  for (const r of rows) await ctx.store.setTokenState(id, r.keyId, "revoked", null, at);
  return provider.revocationEndpoint !== undefined ? "revoked" : "forgotten";
}

/** A grant as listed: never a token. */
export interface GrantSummary {
  name: string;
  /** The provider registration it belongs to (itself for a command-line grant). */
  provider: string;
  issuer: string;
  scope: string;
  /** The OpenID subject, for serve's web logins (kept public in the grant's settings). */
  subject: string | null;
  /** When the current access token expires, epoch ms; null when there is none. */
  expiresAt: number | null;
  /** `active`, `reauth_required` (log in again), or `no_grant` (never logged in). */
  state: "active" | "reauth_required" | "no_grant";
  updatedAt: number | null;
}

/**
 * Summaries of oauth2 credential rows, for `oauth list` and the admin listing.
 *
 * @example
 * ```ts
 * const rows = (await ctx.store.listChannels()).filter((r) => r.kind === "oauth2");
 * for (const g of await grantSummaries(ctx, rows)) console.log(g.name, g.state);
 * ```
 */
export async function grantSummaries(ctx: { store: RegistryStore & TokenStore & GrantStore }, rows: ChannelRow[], now = Date.now()): Promise<GrantSummary[]> {
  const out: GrantSummary[] = [];
  // Web grants share their provider's registration: read each once.
  const sources = new Map<string, Promise<ChannelRow>>();
  const sourceOf = (row: ChannelRow): Promise<ChannelRow> => {
    if (!isWebGrant(row)) return Promise.resolve(row);
    const name = row.settings["provider"] as string;
    let p = sources.get(name);
    if (p === undefined) sources.set(name, (p = registrationRowOf(ctx.store, row)));
    return p;
  };
  for (const row of rows) {
    let issuer = "";
    let scope = typeof row.settings["scope"] === "string" ? (row.settings["scope"] as string) : "";
    try {
      const reg = registrationOf(await sourceOf(row));
      issuer = reg.issuer;
      if (!isWebGrant(row)) scope = reg.scope;
    } catch {
      // A web grant whose provider was removed: listed without an issuer.
    }
    const [grant, current] = await Promise.all([ctx.store.getGrant(row.channelId), ctx.store.getCurrent(row.channelId)]);
    const token = current.token !== null && current.token.state === "valid" && current.token.expiresAt > now ? current.token : null;
    const state = grant !== null ? grant.status : token !== null ? "active" : "no_grant";
    out.push({
      name: row.channelId,
      provider: isWebGrant(row) ? (row.settings["provider"] as string) : row.channelId,
      issuer,
      scope,
      subject: typeof row.settings["subject"] === "string" ? (row.settings["subject"] as string) : null,
      expiresAt: token?.expiresAt ?? null,
      state,
      updatedAt: grant?.updatedAt ?? current.token?.updatedAt ?? null,
    });
  }
  return out;
}

/**
 * The engine as the authorized fetch's token holder: `current()` is the engine's get() (refreshed
 * once across processes when due), `renew()` after a 401 invalidates that token (one refresh,
 * however many callers saw the 401) and gets the next.
 *
 * @example
 * ```ts
 * const api = createAuthorizedFetch({ holder: engineTokenHolder(manager, "acme"), allowedOrigins: ["https://api.acme.example"] });
 * ```
 */
export function engineTokenHolder(tokens: TokenSource, id: string): TokenHolder {
  const keyIds = new Map<string, string>();
  const get = async (): Promise<string> => {
    const t = await tokens.get(id);
    if (keyIds.size > 100) keyIds.clear();
    keyIds.set(t.accessToken, t.keyId);
    return t.accessToken;
  };
  return {
    current: get,
    async renew(rejected) {
      const keyId = keyIds.get(rejected);
      if (keyId !== undefined) await tokens.invalidate(id, keyId);
      return get();
    },
  };
}

/**
 * An authorized fetch for a grant: the token from the engine, sent only to the registration's API origins.
 *
 * @example
 * ```ts
 * const api = await grantFetch(ctx, ctx.manager, "acme", { env: process.env });
 * const me = await (await api("https://api.acme.example/me")).json();
 * ```
 */
export async function grantFetch(ctx: GrantContext, tokens: TokenSource, id: string, options: { env: Record<string, string | undefined>; fetch?: typeof fetch }): Promise<AuthorizedFetch> {
  const resolved = await resolveGrantProvider(ctx, id, options);
  return createAuthorizedFetch({ holder: engineTokenHolder(tokens, id), allowedOrigins: resolved.apiOrigins, allowInsecureHttp: resolved.registration.allowInsecure, ...(options.fetch ? { fetch: options.fetch } : {}) });
}
