/**
 * OAuth 2.0 in `kagiya serve`: the web login of an app's end users and the broker API for their grants.
 *
 * - `GET /oauth/{name}/start` sends the browser to the provider (PKCE, state, nonce); what the
 *   callback needs (verifier, nonce, state) travels in a cookie sealed with the master key, so any
 *   instance sharing the store can finish the login;
 * - `GET /oauth/{name}/callback` checks the callback (iss, state, error=), trades the code once
 *   (a state is accepted once, across instances), stores the user's grant `name.<id>` (the same ID
 *   for the same OpenID subject: a new login renews it and revokes the refresh token it replaced,
 *   see oauth-renewal.ts) and sends the browser to the registration's return URL with `?grant=ID`
 *   (or `?error=CODE`); nothing is stored on any failure;
 * - both are rate-limited per client address (`oauthRateLimit`, 429 `ERR_RATE_LIMITED`);
 * - `GET /v1/grants/{grantId}/token` hands a grant's access token to a service holding an API key
 *   scoped to the provider (`kagiya apikey create --credential NAME`);
 * - `GET /ui/api/grants[?provider=NAME][&limit=N][&after=ID]` lists grants for the dashboard (admin
 *   session), by ID, a page at a time (`next` is the `after` of the following page): never a token.
 *
 * @module
 */
import { createHash, randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createAuthorizationRequest, exchangeCode, validateCallback, type PendingAuthorization } from "../clients/oauth/index.ts";
import { KagiyaError } from "../core/errors.ts";
import { isWebGrant, OAUTH2_KIND, PROVIDER_NAME_PATTERN, providerNameOf, registrationOf, resolveRegistration, type PresetOrigins, type ResolvedRegistration } from "../kinds/oauth2/registration.ts";
import type { ChannelRegistry } from "../store/registry.ts";
import type { ApiKeyRow } from "../store/types.ts";
import type { TokenManager } from "../tokens/manager.ts";
import type { ManagedToken } from "../tokens/types.ts";
import { grantSummaries, storeLoginGrant } from "../tokens/oauth-grants.ts";
import { toHttpError, type ServerContext } from "./context.ts";
import { replacedGrant, revokeReplaced } from "./oauth-renewal.ts";
import { takeOrRefuse } from "./ratelimit.ts";
import { HttpError } from "./errors.ts";
import { parseCookies, sendJson } from "./http.ts";
import type { Router } from "./router.ts";

/** What the web login needs beyond the server's context. */
export interface OAuthWebOptions {
  registry: ChannelRegistry;
  /** Stores a login's token and grant through the engine (the broker's TokenManager). */
  tokens: Pick<TokenManager, "adopt" | "invalidate">;
  /** Preset origins (development against the emulator). */
  origins?: PresetOrigins;
  /** How long a login may take from start to callback, ms (default 600000). */
  loginTtlMs?: number;
  /** fetch for the provider's endpoints (default the global one). */
  fetch?: typeof fetch;
}

/** Grant IDs: a provider name, optionally `.` and the random part of a web login. */
const GRANT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}(?:\.[A-Za-z0-9_-]{1,23})?$/;
const COOKIE_PREFIX = "kagiya_oauth_";

/** The sealed login in progress, as the cookie carries it. */
interface PendingCookie {
  name: string;
  state: string;
  nonce: string | null;
  verifier: string | null;
  redirectUri: string;
  scope: string[];
  expiresAt: number;
  /** Started over by the server after revoking the replaced grant ended the new one: revoke nothing this time. */
  again?: boolean;
}

/**
 * Mounts the web login, the grant token API and the admin grant listing.
 *
 * @example
 * ```ts
 * mountOAuthWeb(router, ctx, { registry });
 * ```
 */
export function mountOAuthWeb(router: Router, ctx: ServerContext, options: OAuthWebOptions): void {
  const { registry } = options;
  const ttlMs = options.loginTtlMs ?? 600_000;
  const fetchOption = options.fetch ? { fetch: options.fetch } : {};
  const sealContext = (name: string) => ({ table: "meta" as const, row: "oauth.pending", column: name });

  async function registrationFor(name: string): Promise<ResolvedRegistration> {
    if (!PROVIDER_NAME_PATTERN.test(name)) throw new HttpError(404, "ERR_NOT_FOUND", "no such OAuth provider");
    const row = await registry.get(name);
    if (row === null || row.kind !== OAUTH2_KIND || isWebGrant(row)) throw new HttpError(404, "ERR_NOT_FOUND", "no such OAuth provider");
    const reg = registrationOf(row);
    if (reg.webRedirectUri === undefined) throw new HttpError(404, "ERR_NOT_FOUND", `OAuth provider ${name} has no web login (register it with --web-redirect-uri)`);
    return resolveRegistration(reg, row, { ...(options.origins ? { origins: options.origins } : {}), ...fetchOption, now: ctx.now });
  }

  const cookie = (name: string, value: string, maxAgeS: number): string =>
    `${COOKIE_PREFIX}${name}=${value}; Path=/oauth/${name}/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeS}${ctx.secureCookies ? "; Secure" : ""}`;

  /** Per client address (as the dashboard login counts), before anything is read. */
  const limit = (req: IncomingMessage): void => takeOrRefuse(ctx.oauthLimiter, req.socket.remoteAddress ?? "?", "too many OAuth login requests from this address");

  /** Sends the browser to the provider with a new authorization request, sealed in the cookie. */
  async function beginLogin(res: ServerResponse, name: string, resolved: ResolvedRegistration, again: boolean): Promise<void> {
    const reg = resolved.registration;
    const pending = await createAuthorizationRequest(resolved.provider, { clientId: reg.clientId, redirectUri: reg.webRedirectUri!, scope: reg.scope, params: resolved.params });
    const sealed: PendingCookie = {
      name, state: pending.state, nonce: pending.nonce ?? null, verifier: pending.codeVerifier ?? null, redirectUri: pending.redirectUri, scope: [...pending.scope], expiresAt: ctx.now() + ttlMs,
      ...(again ? { again } : {}),
    };
    const value = registry.sealer.seal(JSON.stringify(sealed), sealContext(name));
    redirect(res, pending.url, cookie(name, value, Math.ceil(ttlMs / 1000)));
  }

  router.add("GET", "/oauth/:name/start", async ({ req, res, params }) => {
    limit(req);
    const name = params["name"]!;
    await beginLogin(res, name, await registrationFor(name), false);
  });

  router.add("GET", "/oauth/:name/callback", async ({ req, res, params, query }) => {
    limit(req);
    const name = params["name"]!;
    const resolved = await registrationFor(name);
    const back = resolved.registration.returnUrl;
    const clear = cookie(name, "", 0);
    try {
      const { pending, again } = readPending(req, name);
      const callback = new URLSearchParams(query);
      validateCallback(resolved.provider, pending, callback);
      // A state is good once, on every instance: a copied cookie and URL cannot log in twice.
      if (!(await ctx.store.markOnce(`oauth.state.${pending.state}`, ttlMs))) {
        throw new KagiyaError("ERR_OAUTH_STATE_MISMATCH", "this login was already completed");
      }
      const tokens = await exchangeCode(resolved.provider, resolved.client, pending, callback, { ...fetchOption, now: ctx.now });
      const subject = tokens.idTokenClaims?.sub;
      const id = webGrantId(name, subject);
      // The same user logging in again gets the same grant, renewed; a new one is removed again if storing fails.
      const existed = (await registry.store.getChannel(id)) !== null;
      const previous = existed && !again ? await replacedGrant(ctx, registry, id) : null;
      await registry.add({
        channelId: id, kind: OAUTH2_KIND, kid: "", privateKey: { kty: "none", d: "" } as never, channelSecret: "",
        settings: { provider: name, scope: tokens.scope.join(" "), ...(subject !== undefined ? { subject } : {}) },
      }, { replace: existed });
      let adopted: ManagedToken;
      try {
        adopted = await storeLoginGrant(options.tokens, id, tokens, "oauth-web");
      } catch (error) {
        if (!existed) await registry.remove(id).catch(() => {});
        throw error;
      }
      await ctx.audit({ action: "oauth.web_login", actor: "oauth-web", channelId: id, keyId: null, detail: `provider ${name}` });
      // The renewal ends the grant it replaced; if that ended the new one too, the user logs in once more.
      if (previous !== null && (await revokeReplaced(ctx, resolved, id, previous, tokens, fetchOption)) === "shared") {
        // The provider ended this login's access token with the grant: not to be handed out. If the
        // user does not finish the new login, the next read finds the grant ended (409, log in again).
        await options.tokens.invalidate(id, adopted.keyId, { actor: "oauth-web" }).catch((error: unknown) => {
          ctx.log.warn({ grant: id, code: (error as { code?: unknown }).code ?? "ERR_INTERNAL" }, "could not forget the access token of a login that starts over");
        });
        await beginLogin(res, name, resolved, true);
        return;
      }
      if (back === undefined) sendJson(res, 200, { grant: id, subject: subject ?? null }, { "set-cookie": clear });
      else redirect(res, withParam(back, "grant", id), clear);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const shown = typeof code === "string" && code.startsWith("ERR_") ? code : "ERR_INTERNAL";
      if (!(error instanceof KagiyaError)) ctx.log.error({ provider: name, code: shown }, "web login failed");
      else ctx.log.warn({ provider: name, code: shown }, "web login refused");
      if (back === undefined) {
        const http = error instanceof KagiyaError && shown.startsWith("ERR_OAUTH") ? new HttpError(400, shown, error.message) : toHttpError(error, ctx.now());
        sendJson(res, http.status, { error: http.code, message: http.message }, { "set-cookie": clear });
      } else redirect(res, withParam(back, "error", shown), clear);
    }
  });

  function readPending(req: IncomingMessage, name: string): { pending: PendingAuthorization; again: boolean } {
    const value = parseCookies(req.headers.cookie).get(`${COOKIE_PREFIX}${name}`);
    if (value === undefined || value === "") throw new KagiyaError("ERR_OAUTH_STATE_MISMATCH", "no login is in progress in this browser (start again at /oauth/NAME/start)");
    let p: PendingCookie;
    try {
      p = JSON.parse(registry.sealer.open(value, sealContext(name))) as PendingCookie;
    } catch {
      throw new KagiyaError("ERR_OAUTH_STATE_MISMATCH", "the login cookie is not one this server made");
    }
    if (p.name !== name || !(p.expiresAt > ctx.now())) throw new KagiyaError("ERR_OAUTH_STATE_MISMATCH", "the login took too long (start again)");
    return { pending: { url: "", state: p.state, nonce: p.nonce ?? undefined, codeVerifier: p.verifier ?? undefined, redirectUri: p.redirectUri, scope: p.scope }, again: p.again === true };
  }

  // --- broker API: a grant's access token for a service with an API key scoped to the provider ---
  const ok = ctx.metrics.tokenApi.labels("ok");
  const refused = ctx.metrics.tokenApi.labels("refused");
  const failed = ctx.metrics.tokenApi.labels("failed");
  /** Per key: when its use was last written to the audit log (once a minute per instance, as the token API does). */
  const recorded = new Map<string, number>();
  /**
   * Grants this process has looked up, with their subject: while the store cannot be read, a grant
   * seen before is still answered (its token from memory, as the token API does for channels).
   */
  const seenGrants = new Map<string, string | null>();
  const grantSubject = async (id: string): Promise<string | null> => {
    let row;
    try {
      row = await ctx.store.getChannel(id);
    } catch (error) {
      if (seenGrants.has(id)) return seenGrants.get(id)!;
      throw error;
    }
    if (row === null || row.kind !== OAUTH2_KIND) {
      seenGrants.delete(id);
      throw new HttpError(404, "ERR_NOT_FOUND", `no grant ${id}`);
    }
    const subject = typeof row.settings["subject"] === "string" ? (row.settings["subject"] as string) : null;
    if (seenGrants.size > 10_000) seenGrants.clear();
    seenGrants.set(id, subject);
    return subject;
  };
  router.add("GET", "/v1/grants/:grantId/token", async ({ req, res, params }) => {
    const id = params["grantId"]!;
    let subject: string | null = null;
    let key: ApiKeyRow;
    try {
      key = await ctx.apiKeys.authenticate(req.headers.authorization);
      if (!GRANT_ID_PATTERN.test(id)) throw new HttpError(400, "ERR_BAD_REQUEST", 'the grant ID in the path must be NAME or NAME.<id> (letters, digits, "_", "-")');
      const wait = ctx.limiter.take(key.id);
      if (wait > 0) throw new HttpError(429, "ERR_RATE_LIMITED", `API key ${key.id} is over its rate limit; retry after ${wait} s`, { headers: { "retry-after": String(wait) } });
      // Scoped to the provider (all its grants) or to this one grant; the same answer for grants that do not exist.
      if (!key.channels.includes(providerNameOf(id)) && !key.channels.includes(id)) throw new HttpError(403, "ERR_FORBIDDEN", "this API key has no access to that grant");
      subject = await grantSubject(id);
    } catch (error) {
      refused.inc();
      throw toHttpError(error, ctx.now());
    }
    let token;
    try {
      token = await ctx.tokens.get(id);
    } catch (error) {
      failed.inc();
      const http = toHttpError(error, ctx.now());
      if (http.status >= 500) ctx.log.warn({ grant: id, code: http.code }, "grant token API could not hand out a token");
      throw http;
    }
    ok.inc();
    const at = ctx.now();
    const last = recorded.get(key.id);
    if (last === undefined || at - last >= 60_000) {
      if (recorded.size > 10_000) recorded.clear();
      recorded.set(key.id, at);
      void ctx.audit({ at, action: "apikey.use", actor: `apikey:${key.id}`, channelId: id, keyId: key.id, detail: `grant token ${token.keyId}` });
      ctx.store.touchApiKey(key.id, at).catch((error: unknown) => ctx.log.warn({ code: (error as { code?: string }).code }, "could not record API key use"));
    }
    sendJson(res, 200, { access_token: token.accessToken, token_type: token.tokenType, expires_at: Math.floor(token.expiresAt / 1000), subject }, { "cache-control": "no-store" });
  });

  // --- the dashboard's listing (admin session): never a token ---
  router.add("GET", "/ui/api/grants", async ({ req, res, query }) => {
    await ctx.admin.require(req.headers.cookie);
    const q = new URLSearchParams(query);
    const provider = q.get("provider");
    if (provider !== null && !PROVIDER_NAME_PATTERN.test(provider)) throw new HttpError(400, "ERR_BAD_REQUEST", "provider must be a provider name");
    const after = q.get("after");
    if (after !== null && !GRANT_ID_PATTERN.test(after)) throw new HttpError(400, "ERR_BAD_REQUEST", "after must be a grant ID (the previous page's next)");
    const limitText = q.get("limit");
    const limit = limitText === null ? 200 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new HttpError(400, "ERR_BAD_REQUEST", "limit must be an integer from 1 to 1000");
    try {
      const rows = (await ctx.store.listChannels())
        .filter((r) => r.kind === OAUTH2_KIND && (provider === null || providerNameOf(r.channelId) === provider) && (after === null || r.channelId > after))
        .sort((a, b) => (a.channelId < b.channelId ? -1 : a.channelId > b.channelId ? 1 : 0));
      const page = rows.slice(0, limit);
      const next = rows.length > limit ? page.at(-1)!.channelId : null;
      sendJson(res, 200, { grants: await grantSummaries({ store: registry.store }, page, ctx.now()), next });
    } catch (error) {
      throw toHttpError(error, ctx.now());
    }
  });
}

/**
 * A web login's grant ID: `name.` and 16 base64url characters, derived from the OpenID subject when
 * there is one (the same user, the same grant), else random.
 */
function webGrantId(name: string, subject: string | undefined): string {
  const tail = subject === undefined ? randomBytes(12) : createHash("sha256").update(`${name}\u0000${subject}`).digest().subarray(0, 12);
  return `${name}.${Buffer.from(tail).toString("base64url")}`;
}

function withParam(url: string, name: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(name, value);
  return u.href;
}

function redirect(res: ServerResponse, location: string, setCookie: string): void {
  res.writeHead(302, { location, "set-cookie": setCookie, "cache-control": "no-store", "referrer-policy": "no-referrer" });
  res.end();
}
