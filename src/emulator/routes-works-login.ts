// LINE WORKS user accounts: GET /oauth2/v2.0/authorize (the app's test user logs in and consents at
// once, as the LINE Login emulation does) and GET /v1.0/users/me, the user a user-account token acts
// for. The code exchange is the token endpoint's (routes-works-auth.ts).
import { randomBytes } from "node:crypto";
import { readQuery, type Handler } from "./context.ts";
import { authorizationRedirect, oauthError, send } from "./http.ts";
import { worksApiError } from "./routes-works-bot.ts";
import { WORKS_CODE_LIFETIME_S, worksOf, worksTokenState, type WorksApp } from "./works-state.ts";

/** The test user of an app's domain, the same on every login (as one person logging in again). */
export function worksTestUser(app: WorksApp): { userId: string; email: string } {
  return { userId: `${app.domainId}-test-user`, email: `test-user@${app.domainId}.example.com` };
}

/** GET /oauth2/v2.0/authorize */
export const worksAuthorize: Handler = (ctx, em) => {
  const q = readQuery(ctx);
  if (!q) return;
  const app = worksOf(em).apps.get(q.get("client_id") ?? "");
  // Problems found before the redirect URI is trusted are shown, never redirected (RFC 6749 §4.1.2.1).
  if (!app) return oauthError(ctx, 400, "invalid_request", "client_id is missing or not an app of this emulator");
  const redirectUri = q.get("redirect_uri");
  const state = q.get("state");
  const back = authorizationRedirect(ctx, redirectUri, state);
  if (!back) return;
  if (q.get("response_type") !== "code") return back({ error: "unsupported_response_type", error_description: "response_type must be code" });
  // Scopes in the wild come space- or comma-separated; each must be enabled for the app.
  const scopes = [...new Set((q.get("scope") ?? "").split(/[\s,]+/).filter((s) => s !== ""))];
  if (scopes.length === 0) return back({ error: "invalid_scope", error_description: "scope is required" });
  const unknown = scopes.filter((s) => !app.scopes.has(s));
  if (unknown.length > 0) return back({ error: "invalid_scope", error_description: `Scope not enabled for this app: ${unknown.join(" ")}` });
  const domain = q.get("domain");
  if (domain !== undefined && domain !== app.domainId) return back({ error: "access_denied", error_description: `The user is not a member of domain ${domain}` });
  const code = randomBytes(24).toString("base64url");
  worksOf(em).codes.set(code, {
    clientId: app.clientId, redirectUri: redirectUri!, scopes, userId: worksTestUser(app).userId,
    expiresAt: em.state.now() + WORKS_CODE_LIFETIME_S * 1000, used: false,
  });
  back({ code });
};

/** GET /v1.0/users/me: a user-account token's user; a service account has no "me". */
export const worksMe: Handler = (ctx, em) => {
  const works = worksOf(em);
  const m = /^Bearer +(\S+)\s*$/i.exec(ctx.req.headers.authorization ?? "");
  const token = m ? works.tokens.get(m[1]!) : undefined;
  const now = em.state.now();
  if (!token || token.type !== "access" || worksTokenState(token, now) !== "valid") {
    const status = token ? (works.apps.get(token.clientId)?.unauthorizedStatus ?? 401) : 401;
    return worksApiError(ctx, status, "UNAUTHORIZED", token ? "The access token has expired or was revoked" : "Authentication failed: no valid access token");
  }
  if (token.userId === undefined) return worksApiError(ctx, 403, "FORBIDDEN", 'A service account cannot use "me": give a user ID');
  if (!token.scopes.some((s) => s === "user.read" || s === "user")) return worksApiError(ctx, 403, "FORBIDDEN", 'The access token lacks the "user.read" scope');
  const app = works.apps.get(token.clientId)!;
  const user = worksTestUser(app);
  send(ctx, 200, { userId: user.userId, email: user.email, domainId: Number(app.domainId), userName: { lastName: "Test", firstName: "User" } });
};
