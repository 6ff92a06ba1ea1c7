// LINE WORKS' auth server: POST /oauth2/v2.0/token (JWT bearer, authorization code and
// refresh-token grants) and POST /oauth2/v2.0/revoke (the authorize page is routes-works-login.ts). Every refusal is an RFC 6749 error body; expires_in is sent as a
// string, as the real server does.
import { randomBytes } from "node:crypto";
import { readForm, type Handler } from "./context.ts";
import { oauthError, send, type Ctx } from "./http.ts";
import { checkWorksAssertion } from "./works-assertion.ts";
import { WORKS_REFRESH_LIFETIME_S, worksOf, worksTokenState, type WorksApp, type WorksState, type WorksTokenRecord } from "./works-state.ts";

const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/** Opaque tokens in the real server's style: standard Base64 (so `+`, `/` and `=` reach the client). */
function newWorksToken(prefix: string): string {
  return prefix + randomBytes(96).toString("base64");
}

function safeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The app for client_id/client_secret, or an invalid_client answered (RFC 6749 §5.2: 401). */
function client(ctx: Ctx, works: WorksState, form: Map<string, string>): WorksApp | undefined {
  const clientId = form.get("client_id");
  const clientSecret = form.get("client_secret");
  if (!clientId || clientSecret === undefined) {
    oauthError(ctx, 400, "invalid_request", "client_id and client_secret are required");
    return undefined;
  }
  const app = works.apps.get(clientId);
  if (!app || !safeEqual(app.clientSecret, clientSecret)) {
    oauthError(ctx, 401, "invalid_client", "Client authentication failed: unknown client_id or wrong client_secret");
    return undefined;
  }
  return app;
}

function record(works: WorksState, app: WorksApp, type: WorksTokenRecord["type"], scopes: string[], grant: WorksTokenRecord["grant"], now: number, userId?: string): WorksTokenRecord {
  const r: WorksTokenRecord = {
    ...(userId !== undefined ? { userId } : {}),
    token: newWorksToken(type === "access" ? "kr1AAAA" : "kr1BBBB"),
    type,
    clientId: app.clientId,
    scopes,
    grant,
    issuedAt: now,
    expiresAt: now + (type === "access" ? app.tokenLifetime : WORKS_REFRESH_LIFETIME_S) * 1000,
    revokedAt: null,
    uses: 0,
  };
  works.tokens.set(r.token, r);
  return r;
}

/** POST /oauth2/v2.0/token */
export const worksToken: Handler = async (ctx, em) => {
  const form = await readForm(ctx);
  if (!form) return;
  const works = worksOf(em);
  const grantType = form.get("grant_type");
  if (grantType === undefined) return oauthError(ctx, 400, "invalid_request", "grant_type is required");
  if (grantType !== JWT_BEARER && grantType !== "refresh_token" && grantType !== "authorization_code") {
    return oauthError(ctx, 400, "unsupported_grant_type", `grant_type must be ${JWT_BEARER}, authorization_code or refresh_token`);
  }
  const app = client(ctx, works, form);
  if (!app) return;
  const now = em.state.now();
  if (grantType === "authorization_code") return exchangeCode(ctx, works, app, form, now);
  if (grantType === JWT_BEARER) {
    const assertion = form.get("assertion");
    const scope = form.get("scope");
    if (!assertion) return oauthError(ctx, 400, "invalid_request", "assertion is required");
    if (scope === undefined || scope.trim() === "") return oauthError(ctx, 400, "invalid_request", "scope is required");
    const failure = checkWorksAssertion(app, assertion, now);
    if (failure) return oauthError(ctx, 400, failure.error, failure.description);
    // Clients in the wild send scopes comma- or space-separated; both are taken.
    const scopes = [...new Set(scope.split(/[\s,]+/).filter((s) => s !== ""))];
    const unknown = scopes.filter((s) => !app.scopes.has(s));
    if (unknown.length > 0) return oauthError(ctx, 400, "invalid_scope", `Scope not enabled for this app: ${unknown.join(" ")}`);
    const access = record(works, app, "access", scopes, "jwt-bearer", now);
    const refresh = record(works, app, "refresh", scopes, "jwt-bearer", now);
    return send(ctx, 200, { access_token: access.token, refresh_token: refresh.token, scope: scopes.join(" "), token_type: "Bearer", expires_in: String(app.tokenLifetime) });
  }
  const given = form.get("refresh_token");
  if (!given) return oauthError(ctx, 400, "invalid_request", "refresh_token is required");
  const old = works.tokens.get(given);
  if (old?.type === "refresh") old.uses++;
  if (!old || old.type !== "refresh" || old.clientId !== app.clientId || worksTokenState(old, now) !== "valid") {
    return oauthError(ctx, 400, "invalid_grant", "The refresh token is invalid, expired, revoked or was rotated");
  }
  const access = record(works, app, "access", old.scopes, "refresh_token", now, old.userId);
  const body: Record<string, unknown> = { access_token: access.token, scope: old.scopes.join(" "), token_type: "Bearer", expires_in: String(app.tokenLifetime) };
  if (app.rotation) {
    // Rotation on: a new refresh token, and the old one dies at once.
    old.revokedAt = now;
    body["refresh_token"] = record(works, app, "refresh", old.scopes, "refresh_token", now, old.userId).token;
  }
  send(ctx, 200, body);
};

/** The code exchange of the user-account login: the code once, for its client (and redirect URI when sent). */
function exchangeCode(ctx: Ctx, works: WorksState, app: WorksApp, form: Map<string, string>, now: number): void {
  const code = form.get("code");
  if (!code) return oauthError(ctx, 400, "invalid_request", "code is required");
  const c = works.codes.get(code);
  const redirectUri = form.get("redirect_uri");
  if (!c || c.used || c.expiresAt <= now || c.clientId !== app.clientId || (redirectUri !== undefined && redirectUri !== c.redirectUri)) {
    // A code presented twice is refused, and so are the tokens it gave (RFC 6749 §4.1.2).
    if (c?.used) for (const t of works.tokens.values()) if (t.code === code && t.revokedAt === null) t.revokedAt = now;
    return oauthError(ctx, 400, "invalid_grant", "The authorization code is invalid, expired, already used or was issued to another client or redirect URI");
  }
  c.used = true;
  const access = record(works, app, "access", c.scopes, "authorization_code", now, c.userId);
  const refresh = record(works, app, "refresh", c.scopes, "authorization_code", now, c.userId);
  access.code = code;
  refresh.code = code;
  send(ctx, 200, { access_token: access.token, refresh_token: refresh.token, scope: c.scopes.join(" "), token_type: "Bearer", expires_in: String(app.tokenLifetime) });
}

/** POST /oauth2/v2.0/revoke (RFC 7009: 200 also for unknown tokens). */
export const worksRevoke: Handler = async (ctx, em) => {
  const form = await readForm(ctx);
  if (!form) return;
  const works = worksOf(em);
  const app = client(ctx, works, form);
  if (!app) return;
  const token = form.get("token");
  if (!token) return oauthError(ctx, 400, "invalid_request", "token is required");
  const r = works.tokens.get(token);
  if (r && r.clientId === app.clientId && r.revokedAt === null) r.revokedAt = em.state.now();
  send(ctx, 200);
};
