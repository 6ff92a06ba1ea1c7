import { readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import type { ServerContext } from "./context.ts";
import type { Router, RouteContext } from "./router.ts";
import type { AdminSession } from "./admin.ts";
import { createApiKey, revokeApiKey } from "./apikeys.ts";
import { credentialPage, parseCredentialQuery } from "./dashboard-credentials.ts";
import { validateCredentialId } from "../store/credential-input.ts";
import { HttpError } from "./errors.ts";
import { readJsonObject, sendJson } from "./http.ts";
import { toHttpError } from "./context.ts";
import { takeOrRefuse } from "./ratelimit.ts";

const UI_DIR = new URL("./ui/", import.meta.url);
const STATIC: Record<string, { file: string; type: string }> = {
  "": { file: "index.html", type: "text/html; charset=utf-8" },
  "app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "charts.js": { file: "charts.js", type: "text/javascript; charset=utf-8" },
  "grants.js": { file: "grants.js", type: "text/javascript; charset=utf-8" },
  "style.css": { file: "style.css", type: "text/css; charset=utf-8" },
};
const SECURITY_HEADERS = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};
const KEY_ID_PATTERN = /^[A-Za-z0-9._~+/=-]{1,200}$/;
const API_KEY_ID_PATTERN = /^ak_[0-9a-f]{16}$/;

/**
 * Mounts the dashboard: the static page under `/ui` (shipped in src/server/ui, no CDN) and its
 * JSON API under `/ui/api`. Every API route but login needs the session cookie; every
 * state-changing one also the session's CSRF token in `X-CSRF-Token` and a JSON body.
 *
 * @example
 * ```ts
 * mountDashboard(router, context);
 * ```
 */
export function mountDashboard(router: Router, ctx: ServerContext): void {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const [name, { file, type }] of Object.entries(STATIC)) files.set(name, { body: readFileSync(new URL(file, UI_DIR)), type });

  const serveStatic = ({ res, params }: RouteContext): void => {
    const name = params["*"] ?? "";
    const f = files.get(name);
    if (f === undefined) throw new HttpError(404, "ERR_NOT_FOUND", "no such dashboard file");
    res.writeHead(200, { ...SECURITY_HEADERS, "content-type": f.type, "content-length": f.body.length });
    res.end(f.body);
  };
  // A person who opens the server's address lands on the dashboard, not on a JSON 404.
  router.add("GET", "/", ({ res }) => {
    res.writeHead(302, { location: "/ui/", "content-length": 0 });
    res.end();
  });
  router.add("GET", "/ui", ({ res }) => {
    res.writeHead(308, { location: "/ui/", "content-length": 0 });
    res.end();
  });

  // --- session ---
  router.add("POST", "/ui/api/login", async ({ req, res }) => {
    const ip = req.socket.remoteAddress ?? "?";
    takeOrRefuse(ctx.loginLimiter, ip, "too many login attempts");
    checkOrigin(req);
    const body = await readJsonObject(req, { limit: ctx.jsonLimit, timeoutMs: ctx.bodyTimeoutMs });
    const session = await ctx.admin.login(body["token"]);
    if (session === null) {
      await ctx.audit({ action: "admin.login_failed", actor: "admin", channelId: null, keyId: null, detail: `from ${ip}` });
      throw new HttpError(401, "ERR_UNAUTHORIZED", (await ctx.admin.configured())
        ? "wrong admin token"
        : "no admin token is configured: set KAGIYA_ADMIN_TOKEN or run kagiya admin token");
    }
    await ctx.audit({ action: "admin.login", actor: "admin", channelId: null, keyId: null, detail: `from ${ip}` });
    sendJson(res, 200, { csrfToken: session.csrfToken }, { "set-cookie": ctx.admin.cookie(session, ctx.secureCookies) });
  });
  router.add("GET", "/ui/api/session", async ({ req, res }) => {
    const s = await ctx.admin.require(req.headers.cookie);
    sendJson(res, 200, { csrfToken: s.csrfToken, expiresAt: s.expiresAt });
  });
  post("/ui/api/logout", async (_body, s, { res }) => {
    await ctx.admin.logout(s);
    sendJson(res, 200, { ok: true }, { "set-cookie": ctx.admin.clearCookie() });
  });

  // --- channels and tokens ---
  // Paged and filtered here (kind, state, ID substring): the page asks for one page at a time.
  get("/ui/api/channels", async (_s, { res, query }) => {
    const page = await credentialPage(ctx, parseCredentialQuery(query));
    sendJson(res, 200, { now: ctx.now(), ...page });
  });
  post("/ui/api/channels/:channelId/issue", async (_body, _s, { res, params }) => {
    const channelId = await knownChannel(params["channelId"]!);
    const token = await ctx.tokens.issue(channelId, { actor: "admin" });
    ctx.scheduler?.nudge(channelId);
    // Never the token itself: the dashboard shows key IDs only.
    sendJson(res, 200, { channelId, keyId: token.keyId, expiresAt: token.expiresAt });
  });
  post("/ui/api/channels/:channelId/revoke", async (body, _s, { res, params }) => {
    const channelId = await knownChannel(params["channelId"]!);
    const keyId = body["keyId"];
    if (typeof keyId !== "string" || !(keyId === "all" || KEY_ID_PATTERN.test(keyId))) {
      throw new HttpError(400, "ERR_BAD_REQUEST", 'send {"keyId": "<key ID>"} (or "all") to revoke');
    }
    const report = (await ctx.tokens.revoke(channelId, keyId, { actor: "admin" })) as { revoked?: string[]; skipped?: Array<{ keyId: string; reason: string }> } | undefined;
    ctx.scheduler?.nudge(channelId);
    sendJson(res, 200, { channelId, revoked: report?.revoked ?? [], skipped: report?.skipped ?? [] });
  });
  post("/ui/api/channels/:channelId/reconcile", async (_body, _s, { res, params }) => {
    const channelId = await knownChannel(params["channelId"]!);
    sendJson(res, 200, await ctx.tokens.reconcile(channelId, { actor: "admin" }));
  });

  // --- activity: the server's own counters over the last hour ---
  get("/ui/api/activity", async (_s, { res }) => {
    const [webhooks, tokenApi] = await Promise.all([ctx.activity.webhooks.series(), ctx.activity.tokenApi.series()]);
    sendJson(res, 200, { now: ctx.now(), webhooks, tokenApi });
  });

  // --- API keys ---
  get("/ui/api/apikeys", async (_s, { res }) => {
    const keys = (await ctx.store.listApiKeys()).map((k) => ({
      id: k.id, name: k.name, channels: k.channels, createdAt: k.createdAt, revokedAt: k.revokedAt, lastUsedAt: k.lastUsedAt,
    }));
    sendJson(res, 200, { apiKeys: keys });
  });
  post("/ui/api/apikeys", async (body, _s, { res }) => {
    const channels = body["channels"];
    const name = body["name"];
    if (!Array.isArray(channels) || channels.length === 0 || channels.some((c) => typeof c !== "string")) {
      throw new HttpError(400, "ERR_BAD_REQUEST", 'send {"channels": ["<channel ID>", ...], "name"?: "..."}');
    }
    if (name !== undefined && typeof name !== "string") throw new HttpError(400, "ERR_BAD_REQUEST", "name must be a string");
    const created = await createApiKey(ctx.store, { channels: channels as string[], name, actor: "admin", now: ctx.now }).catch((e: unknown) => {
      throw toHttpError(e, ctx.now());
    });
    sendJson(res, 201, { id: created.id, key: created.key });
  });
  post("/ui/api/apikeys/:id/revoke", async (_body, _s, { res, params }) => {
    const id = params["id"]!;
    if (!API_KEY_ID_PATTERN.test(id) || !(await revokeApiKey(ctx.store, id, { actor: "admin", now: ctx.now }))) {
      throw new HttpError(404, "ERR_NOT_FOUND", "no API key with that id (list them with kagiya apikey list)");
    }
    ctx.apiKeys.clear();
    sendJson(res, 200, { id, revoked: true });
  });

  // --- audit ---
  get("/ui/api/audit", async (_s, { res, query }) => {
    const q = new URLSearchParams(query);
    const channel = q.get("channel");
    if (channel !== null && !isCredentialId(channel)) throw new HttpError(400, "ERR_BAD_REQUEST", "channel must be a credential ID (a LINE channel's digits, or a LINE WORKS app's ID)");
    const limitText = q.get("limit");
    const limit = limitText === null ? 200 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new HttpError(400, "ERR_BAD_REQUEST", "limit must be an integer from 1 to 1000");
    const rows = await ctx.store.listAudit(channel === null ? { limit } : { channelId: channel, limit });
    sendJson(res, 200, { audit: rows });
  });

  router.add("GET", "/ui/*", serveStatic);

  function get(path: string, handler: (s: AdminSession, c: RouteContext) => Promise<void>): void {
    router.add("GET", path, async (c) => {
      const s = await ctx.admin.require(c.req.headers.cookie);
      await run(() => handler(s, c));
    });
  }

  function post(path: string, handler: (body: Record<string, unknown>, s: AdminSession, c: RouteContext) => Promise<void>): void {
    router.add("POST", path, async (c) => {
      const s = await ctx.admin.require(c.req.headers.cookie);
      ctx.admin.checkCsrf(s, c.req.headers["x-csrf-token"]);
      checkOrigin(c.req);
      const body = await readJsonObject(c.req, { limit: ctx.jsonLimit, timeoutMs: ctx.bodyTimeoutMs });
      await run(() => handler(body, s, c));
    });
  }

  async function run(f: () => Promise<void>): Promise<void> {
    try {
      await f();
    } catch (error) {
      throw toHttpError(error, ctx.now());
    }
  }

  async function knownChannel(channelId: string): Promise<string> {
    if (!isCredentialId(channelId)) throw new HttpError(400, "ERR_BAD_REQUEST", "the ID in the path must be a credential ID (a LINE channel's digits, or a LINE WORKS app's ID)");
    if ((await ctx.store.getChannel(channelId)) === null) {
      throw new HttpError(404, "ERR_CHANNEL_NOT_FOUND", `credential ${channelId} is not registered (add it with kagiya channel add or kagiya works add)`);
    }
    return channelId;
  }
}

/** Whether `id` is a credential ID ({@link validateCredentialId}'s rule: LINE channel IDs are ones too). */
function isCredentialId(id: string): boolean {
  try {
    validateCredentialId(id);
    return true;
  } catch {
    return false;
  }
}

/** A browser that sends Origin must be on this host: a second check behind SameSite and CSRF. */
function checkOrigin(req: IncomingMessage): void {
  const origin = req.headers.origin;
  if (origin === undefined) return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    host = "";
  }
  if (host !== req.headers.host) throw new HttpError(403, "ERR_FORBIDDEN", "cross-origin requests to the dashboard API are refused");
}

