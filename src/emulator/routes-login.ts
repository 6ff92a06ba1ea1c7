// LINE Login v2.1: authorize (an automatic test login and consent), token (code and refresh),
// verify (access token and ID token), revoke, JWKS, profile and userinfo, plus a control route.
// Token, verify and revoke share their paths with the channel access token API: `register` wraps
// those routes and hands a request over to them when it is not a login one.
import { createHash, randomBytes } from "node:crypto";
import { readForm, readJson, readQuery, type Emulator, type Handler } from "./context.ts";
import { authorizationRedirect, messageError, oauthError, send, type Ctx } from "./http.ts";
import { newJwsToken } from "./ids.ts";
import {
  LOGIN_ACCESS_LIFETIME_S, LOGIN_CODE_LIFETIME_S, LOGIN_ID_TOKEN_LIFETIME_S, LOGIN_ISSUER, LOGIN_REFRESH_LIFETIME_S,
  loginState, type LoginState, type LoginToken,
} from "./login-state.ts";
import type { Channel } from "./state.ts";

const SCOPES = new Set(["profile", "openid", "email"]);
const TOKEN = "/oauth2/v2.1/token";
const VERIFY = "/oauth2/v2.1/verify";
const REVOKE = "/oauth2/v2.1/revoke";

type On = (method: string, path: string, handler: Handler) => void;
type Existing = (method: string, path: string) => Handler | undefined;

/** Registers the LINE Login routes; must run after the channel access token routes it wraps. */
export function register(on: On, existing: Existing): void {
  const previous = (method: string, path: string): Handler => existing(method, path) ?? ((ctx) => messageError(ctx, 404, "Not found"));
  const issueChannelToken = previous("POST", TOKEN);
  const verifyChannelToken = previous("GET", VERIFY);
  const revokeChannelToken = previous("POST", REVOKE);
  on("GET", "/oauth2/v2.1/authorize", authorize);
  on("POST", TOKEN, async (ctx, em) => {
    const form = await readForm(ctx);
    if (!form) return;
    // LINE Login never sends a client assertion: a form with one belongs to the channel token API.
    const grant = form.has("client_assertion") ? undefined : form.get("grant_type");
    if (grant === "authorization_code") return exchangeCode(ctx, em, form);
    if (grant === "refresh_token") return refresh(ctx, em, form);
    return issueChannelToken(ctx, em);
  });
  on("GET", VERIFY, (ctx, em) => {
    const q = readQuery(ctx);
    if (!q) return;
    const token = q.get("access_token");
    if (token !== undefined && loginState(em).tokens.has(token)) return verifyAccessToken(ctx, em, token);
    return verifyChannelToken(ctx, em);
  });
  on("POST", VERIFY, verifyIdToken);
  on("POST", REVOKE, async (ctx, em) => {
    const form = await readForm(ctx);
    if (!form) return;
    const token = form.get("access_token");
    if (token !== undefined && loginState(em).tokens.has(token)) return revoke(ctx, em, form, token);
    return revokeChannelToken(ctx, em);
  });
  on("GET", "/oauth2/v2.1/certs", (ctx, em) => send(ctx, 200, loginState(em).jwks()));
  on("GET", "/v2/profile", profile);
  on("GET", "/oauth2/v2.1/userinfo", userinfo);
  on("POST", "/__emulator/line-login", settings);
}

function randomCode(): string {
  return randomBytes(15).toString("base64url");
}

function channelFor(em: Emulator, clientId: string | undefined, secret?: string): Channel | undefined {
  if (!clientId) return undefined;
  const c = em.state.channels.get(clientId);
  if (!c) return undefined;
  if (secret !== undefined && c.channelSecret !== secret) return undefined;
  return c;
}

/** GET /oauth2/v2.1/authorize: logs the channel's test user in and consents at once. */
const authorize: Handler = (ctx, em) => {
  const q = readQuery(ctx);
  if (!q) return;
  const clientId = q.get("client_id");
  const redirectUri = q.get("redirect_uri");
  const channel = channelFor(em, clientId);
  // Problems found before the redirect URI is trusted are shown, never redirected (RFC 6749 §4.1.2.1).
  if (!channel) return oauthError(ctx, 400, "invalid_request", "client_id is missing or not a channel of this emulator");
  const state = q.get("state");
  const back = authorizationRedirect(ctx, redirectUri, state);
  if (!back) return;
  if (q.get("response_type") !== "code") return back({ error: "unsupported_response_type", error_description: "response_type must be code" });
  if (!state) return back({ error: "invalid_request", error_description: "state is required" });
  const scope = (q.get("scope") ?? "").split(" ").filter((s) => s !== "");
  if (scope.length === 0 || scope.some((s) => !SCOPES.has(s))) return back({ error: "invalid_scope", error_description: "scope must be profile, openid and/or email" });
  const challenge = q.get("code_challenge");
  if (challenge !== undefined && q.get("code_challenge_method") !== "S256") return back({ error: "invalid_request", error_description: "code_challenge_method must be S256" });
  const login = loginState(em);
  if (login.settingsFor(channel.channelId).deny) return back({ error: "access_denied", error_description: "The user has denied the approval" });
  const code = randomCode();
  login.codes.set(code, {
    channelId: channel.channelId, redirectUri: redirectUri!, scope,
    nonce: q.get("nonce"), codeChallenge: challenge, expiresAt: em.state.now() + LOGIN_CODE_LIFETIME_S * 1000, used: false, issued: [],
  });
  const extra: Record<string, string> = { code };
  if (q.has("bot_prompt")) extra["friendship_status_changed"] = "false";
  back(extra);
};

function issueTokens(em: Emulator, login: LoginState, channelId: string, userId: string, scope: string[], refreshToken?: string): LoginToken {
  const now = em.state.now();
  const t: LoginToken = {
    accessToken: newJwsToken(), refreshToken: refreshToken ?? randomCode(), channelId, userId, scope,
    issuedAt: now, expiresAt: now + LOGIN_ACCESS_LIFETIME_S * 1000, refreshExpiresAt: now + LOGIN_REFRESH_LIFETIME_S * 1000, revoked: false,
  };
  login.tokens.set(t.accessToken, t);
  login.refresh.set(t.refreshToken, t);
  return t;
}

function tokenBody(t: LoginToken): Record<string, unknown> {
  return { access_token: t.accessToken, expires_in: LOGIN_ACCESS_LIFETIME_S, refresh_token: t.refreshToken, scope: t.scope.join(" "), token_type: "Bearer" };
}

/** grant_type=authorization_code */
function exchangeCode(ctx: Ctx, em: Emulator, form: Map<string, string>): void {
  const channel = channelFor(em, form.get("client_id"), form.get("client_secret") ?? "");
  if (!channel) return oauthError(ctx, 400, "invalid_client", "invalid client_id or client_secret");
  const login = loginState(em);
  const code = login.codes.get(form.get("code") ?? "");
  if (!code || code.channelId !== channel.channelId || code.expiresAt <= em.state.now()) return oauthError(ctx, 400, "invalid_grant", "invalid authorization code");
  if (code.used) {
    for (const at of code.issued) revokeToken(login, at);
    return oauthError(ctx, 400, "invalid_grant", "invalid authorization code");
  }
  if (form.get("redirect_uri") !== code.redirectUri) return oauthError(ctx, 400, "invalid_grant", "redirect_uri does not match");
  if (code.codeChallenge !== undefined) {
    const verifier = form.get("code_verifier") ?? "";
    if (createHash("sha256").update(verifier).digest("base64url") !== code.codeChallenge) return oauthError(ctx, 400, "invalid_grant", "invalid code_verifier");
  }
  code.used = true;
  const settings = login.settingsFor(channel.channelId);
  const t = issueTokens(em, login, channel.channelId, settings.userId, code.scope);
  code.issued.push(t.accessToken);
  const body = tokenBody(t);
  if (code.scope.includes("openid")) {
    const iat = Math.floor(em.state.now() / 1000);
    const claims: Record<string, unknown> = {
      iss: LOGIN_ISSUER, sub: settings.userId, aud: channel.channelId, exp: iat + LOGIN_ID_TOKEN_LIFETIME_S, iat, amr: ["linesso"],
    };
    if (code.nonce !== undefined) claims["nonce"] = code.nonce;
    if (code.scope.includes("profile")) claims["name"] = settings.displayName;
    if (code.scope.includes("email")) claims["email"] = settings.email;
    body["id_token"] = login.signIdToken(claims, settings.idTokenAlg, channel.channelSecret);
  }
  send(ctx, 200, body);
}

/** grant_type=refresh_token: a new access token; the refresh token stays the same (no rotation). */
function refresh(ctx: Ctx, em: Emulator, form: Map<string, string>): void {
  const channel = channelFor(em, form.get("client_id"), form.get("client_secret") ?? "");
  if (!channel) return oauthError(ctx, 400, "invalid_client", "invalid client_id or client_secret");
  const login = loginState(em);
  const rt = form.get("refresh_token") ?? "";
  const old = login.refresh.get(rt);
  if (!old || old.revoked || old.channelId !== channel.channelId || old.refreshExpiresAt <= em.state.now()) return oauthError(ctx, 400, "invalid_grant", "invalid refresh token");
  send(ctx, 200, tokenBody(issueTokens(em, login, channel.channelId, old.userId, old.scope, rt)));
}

function liveToken(em: Emulator, token: string | undefined): LoginToken | undefined {
  const t = token === undefined ? undefined : loginState(em).tokens.get(token);
  return t && !t.revoked && t.expiresAt > em.state.now() ? t : undefined;
}

/** GET /oauth2/v2.1/verify?access_token= for a login token. */
function verifyAccessToken(ctx: Ctx, em: Emulator, token: string): void {
  const t = liveToken(em, token);
  if (!t) return oauthError(ctx, 400, "invalid_request", "access token expired");
  send(ctx, 200, { scope: t.scope.join(" "), client_id: t.channelId, expires_in: Math.floor((t.expiresAt - em.state.now()) / 1000) });
}

/** POST /oauth2/v2.1/verify: checks an ID token as LINE does and answers its claims. */
const verifyIdToken: Handler = async (ctx, em) => {
  const form = await readForm(ctx);
  if (!form) return;
  const idToken = form.get("id_token");
  const channel = channelFor(em, form.get("client_id"));
  if (!idToken || !channel) return oauthError(ctx, 400, "invalid_request", "id_token and client_id are required");
  const payload = loginState(em).verifyIdToken(idToken, channel.channelSecret);
  const bad = (description: string): void => oauthError(ctx, 400, "invalid_request", description);
  if (!payload) return bad("Invalid IdToken.");
  if (payload["iss"] !== LOGIN_ISSUER) return bad("Invalid IdToken Issuer.");
  if (payload["aud"] !== channel.channelId) return bad("Invalid IdToken Audience.");
  if (typeof payload["exp"] !== "number" || payload["exp"] * 1000 <= em.state.now()) return bad("IdToken expired.");
  if (form.has("nonce") && payload["nonce"] !== form.get("nonce")) return bad("Invalid IdToken Nonce.");
  if (form.has("user_id") && payload["sub"] !== form.get("user_id")) return bad("Invalid IdToken Subject Identifier.");
  send(ctx, 200, payload);
};

function revokeToken(login: LoginState, accessToken: string): void {
  const t = login.tokens.get(accessToken);
  if (!t) return;
  // Revoking an access token ends its refresh token too (LINE's logout): every token of that refresh token.
  for (const other of login.tokens.values()) if (other.refreshToken === t.refreshToken) other.revoked = true;
}

/** POST /oauth2/v2.1/revoke for a login token (`access_token`, `client_id`, `client_secret`). */
function revoke(ctx: Ctx, em: Emulator, form: Map<string, string>, token: string): void {
  const channel = channelFor(em, form.get("client_id"), form.get("client_secret") ?? "");
  if (!channel) return oauthError(ctx, 400, "invalid_client", "invalid client_id or client_secret");
  const login = loginState(em);
  if (login.tokens.get(token)?.channelId === channel.channelId) revokeToken(login, token);
  send(ctx, 200);
}

function bearer(ctx: Ctx, em: Emulator): LoginToken | undefined {
  const h = ctx.req.headers.authorization ?? "";
  const t = /^Bearer ([\x21-\x7e]+)$/i.exec(h) ? liveToken(em, h.slice(7)) : undefined;
  if (!t) send(ctx, 401, { message: "Authentication failed. Confirm that the access token in the authorization header is valid." }, { "www-authenticate": 'Bearer error="invalid_token"' });
  return t;
}

/** GET /v2/profile (scope profile). */
const profile: Handler = (ctx, em) => {
  const t = bearer(ctx, em);
  if (!t) return;
  if (!t.scope.includes("profile")) return messageError(ctx, 403, "Not allowed to use the API: the profile scope is required");
  const s = loginState(em).settingsFor(t.channelId);
  send(ctx, 200, { userId: t.userId, displayName: s.displayName, statusMessage: "" });
};

/** GET /oauth2/v2.1/userinfo (scope openid). */
const userinfo: Handler = (ctx, em) => {
  const t = bearer(ctx, em);
  if (!t) return;
  if (!t.scope.includes("openid")) return messageError(ctx, 403, "Not allowed to use the API: the openid scope is required");
  send(ctx, 200, { sub: t.userId, name: loginState(em).settingsFor(t.channelId).displayName });
};

/** POST /__emulator/line-login {channelId, idTokenAlg?, deny?, displayName?}: a channel's login behaviour. */
const settings: Handler = async (ctx, em) => {
  const body = await readJson(ctx, { anyContentType: true });
  if (!body) return;
  const channelId = body["channelId"];
  if (typeof channelId !== "string" || !em.state.channels.has(channelId)) return messageError(ctx, 404, "channelId must name an existing channel");
  const { idTokenAlg, deny, displayName } = body;
  if (idTokenAlg !== undefined && idTokenAlg !== "HS256" && idTokenAlg !== "ES256") return messageError(ctx, 400, "idTokenAlg must be HS256 or ES256");
  if (deny !== undefined && typeof deny !== "boolean") return messageError(ctx, 400, "deny must be a boolean");
  if (displayName !== undefined && typeof displayName !== "string") return messageError(ctx, 400, "displayName must be a string");
  const s = loginState(em).settingsFor(channelId);
  if (idTokenAlg !== undefined) s.idTokenAlg = idTokenAlg;
  if (deny !== undefined) s.deny = deny;
  if (displayName !== undefined) s.displayName = displayName;
  send(ctx, 200, { channelId, ...s });
};
