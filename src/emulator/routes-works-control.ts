// The LINE WORKS control API under /__emulator/works/: create apps (client ID and secret, service
// account, the public key assertions are checked with, rotation, token lifetime, scopes) and bots,
// read the token ledger and the bot message log. Also the one router for every LINE WORKS path.
import { readJson, type Handler } from "./context.ts";
import { messageError, send, type Ctx } from "./http.ts";
import { newChannelSecret } from "./ids.ts";
import { worksRevoke, worksToken } from "./routes-works-auth.ts";
import { deliverWorksCallback, sendBotMessage } from "./routes-works-bot.ts";
import { worksAuthorize, worksMe } from "./routes-works-login.ts";
import { readWorksKey, WORKS_DEFAULT_SCOPES, WORKS_TOKEN_LIFETIMES, worksOf, worksTokenState, type WorksApp } from "./works-state.ts";

const CONTROL_JSON = { anyContentType: true };
const ID = /^[A-Za-z0-9._-]{1,64}$/;
const SECRET = /^[\x21-\x7e]{1,128}$/;
const APP_KEYS = new Set(["clientId", "clientSecret", "serviceAccount", "publicKey", "rotation", "tokenLifetime", "scopes", "unauthorizedStatus"]);
const SETTINGS = new Set(["rotation", "tokenLifetime", "unauthorizedStatus"]);

function describeApp(a: WorksApp): Record<string, unknown> {
  return {
    clientId: a.clientId, clientSecret: a.clientSecret, serviceAccount: a.serviceAccount, domainId: a.domainId,
    rotation: a.rotation, tokenLifetime: a.tokenLifetime, scopes: [...a.scopes], unauthorizedStatus: a.unauthorizedStatus,
  };
}

/** Checks the settings that can be given at creation and changed later; returns the problem. */
function settingsProblem(b: Record<string, unknown>): string | undefined {
  if (b["rotation"] !== undefined && typeof b["rotation"] !== "boolean") return "rotation must be a boolean";
  if (b["tokenLifetime"] !== undefined && !WORKS_TOKEN_LIFETIMES.includes(b["tokenLifetime"] as 3600)) return "tokenLifetime must be 3600 or 86400 (seconds)";
  if (b["unauthorizedStatus"] !== undefined && b["unauthorizedStatus"] !== 401 && b["unauthorizedStatus"] !== 403) return "unauthorizedStatus must be 401 or 403";
  return undefined;
}

function applySettings(app: WorksApp, b: Record<string, unknown>): void {
  if (b["rotation"] !== undefined) app.rotation = b["rotation"] as boolean;
  if (b["tokenLifetime"] !== undefined) app.tokenLifetime = b["tokenLifetime"] as 3600 | 86400;
  if (b["unauthorizedStatus"] !== undefined) app.unauthorizedStatus = b["unauthorizedStatus"] as 401 | 403;
}

/** POST /__emulator/works/apps */
const createApp: Handler = async (ctx, em) => {
  const b = await readJson(ctx, CONTROL_JSON);
  if (!b) return;
  for (const k of Object.keys(b)) if (!APP_KEYS.has(k)) return messageError(ctx, 400, `unknown field ${k}`);
  const works = worksOf(em);
  const { clientId, clientSecret, serviceAccount, scopes } = b;
  if (clientId !== undefined && (typeof clientId !== "string" || !ID.test(clientId))) return messageError(ctx, 400, "clientId must be 1 to 64 letters, digits, '.', '_' or '-'");
  if (clientSecret !== undefined && (typeof clientSecret !== "string" || !SECRET.test(clientSecret))) return messageError(ctx, 400, "clientSecret must be a non-empty printable string");
  if (serviceAccount !== undefined && (typeof serviceAccount !== "string" || !/^[^\s@]+@[^\s@]+$/.test(serviceAccount))) return messageError(ctx, 400, "serviceAccount must look like xxxxx.serviceaccount@example.com");
  if (scopes !== undefined && !(Array.isArray(scopes) && scopes.length > 0 && scopes.every((s) => typeof s === "string" && /^[a-z][a-z0-9_.-]*$/i.test(s)))) return messageError(ctx, 400, "scopes must be a non-empty array of scope names");
  const problem = settingsProblem(b);
  if (problem) return messageError(ctx, 400, problem);
  if (b["publicKey"] === undefined) return messageError(ctx, 400, "publicKey is required: the service account's public key (JWK or PEM), a certificate, or its private key");
  const key = readWorksKey(b["publicKey"]);
  if (typeof key === "string") return messageError(ctx, 400, key);
  if (clientId !== undefined && works.apps.has(clientId as string)) return messageError(ctx, 409, `app ${clientId as string} already exists`);
  let id = clientId as string | undefined;
  while (id === undefined || works.apps.has(id)) id = newChannelSecret().slice(0, 20);
  const app: WorksApp = {
    clientId: id,
    clientSecret: (clientSecret as string | undefined) ?? newChannelSecret(),
    serviceAccount: (serviceAccount as string | undefined) ?? `${newChannelSecret().slice(0, 5)}.serviceaccount@example.com`,
    domainId: "10000001",
    key,
    rotation: false,
    tokenLifetime: 86400,
    scopes: new Set((scopes as string[] | undefined) ?? WORKS_DEFAULT_SCOPES),
    unauthorizedStatus: 401,
    createdAt: em.state.now(),
  };
  applySettings(app, b);
  works.apps.set(app.clientId, app);
  send(ctx, 201, describeApp(app));
};

function appOr404(ctx: Ctx, em: Parameters<Handler>[1], clientId: string): WorksApp | undefined {
  const app = worksOf(em).apps.get(clientId);
  if (!app) messageError(ctx, 404, `app ${clientId} not found (create it with POST /__emulator/works/apps)`);
  return app;
}

/** PATCH /__emulator/works/apps/{clientId}: change rotation, tokenLifetime or unauthorizedStatus. */
const patchApp = (clientId: string): Handler => async (ctx, em) => {
  const b = await readJson(ctx, CONTROL_JSON);
  if (!b) return;
  for (const k of Object.keys(b)) if (!SETTINGS.has(k)) return messageError(ctx, 400, `field ${k} cannot be changed (only ${[...SETTINGS].join(", ")})`);
  const problem = settingsProblem(b);
  if (problem) return messageError(ctx, 400, problem);
  const app = appOr404(ctx, em, clientId);
  if (!app) return;
  applySettings(app, b);
  send(ctx, 200, describeApp(app));
};

/** GET /__emulator/works/apps/{clientId}/tokens: the ledger (access and refresh tokens). */
const listTokens = (clientId: string): Handler => (ctx, em) => {
  if (!appOr404(ctx, em, clientId)) return;
  const now = em.state.now();
  const tokens = [...worksOf(em).tokens.values()].filter((t) => t.clientId === clientId).map((t) => ({ ...t, state: worksTokenState(t, now) }));
  send(ctx, 200, { clientId, now, tokens });
};

/** POST /__emulator/works/bots {botId?, botSecret?, rateLimitPerMinute?} */
const createBot: Handler = async (ctx, em) => {
  const b = await readJson(ctx, { anyContentType: true, allowEmpty: true });
  if (!b) return;
  for (const k of Object.keys(b)) if (!["botId", "botSecret", "rateLimitPerMinute"].includes(k)) return messageError(ctx, 400, `unknown field ${k}`);
  const { botId, botSecret, rateLimitPerMinute } = b;
  if (botId !== undefined && (typeof botId !== "string" || !/^[0-9]{1,20}$/.test(botId))) return messageError(ctx, 400, "botId must be a string of digits");
  if (botSecret !== undefined && (typeof botSecret !== "string" || !SECRET.test(botSecret))) return messageError(ctx, 400, "botSecret must be a non-empty printable string");
  if (rateLimitPerMinute !== undefined && rateLimitPerMinute !== null && !(Number.isInteger(rateLimitPerMinute) && (rateLimitPerMinute as number) >= 1)) return messageError(ctx, 400, "rateLimitPerMinute must be a positive integer or null");
  const works = worksOf(em);
  if (botId !== undefined && works.bots.has(botId as string)) return messageError(ctx, 409, `bot ${botId as string} already exists`);
  let id = botId as string | undefined;
  while (id === undefined || works.bots.has(id)) id = String(2_000_000 + Math.floor(Math.random() * 7_000_000));
  const bot = { botId: id, botSecret: (botSecret as string | undefined) ?? newChannelSecret(), rateLimitPerMinute: (rateLimitPerMinute as number | null | undefined) ?? null, windowStart: 0, windowCount: 0 };
  works.bots.set(id, bot);
  send(ctx, 201, { botId: bot.botId, botSecret: bot.botSecret, rateLimitPerMinute: bot.rateLimitPerMinute });
};

/** GET /__emulator/works/messages[?botId=] */
const listMessages: Handler = (ctx, em) => {
  const botId = new URLSearchParams(ctx.query).get("botId");
  send(ctx, 200, { messages: worksOf(em).messages.filter((m) => botId === null || m.botId === botId) });
};

const exact = new Map<string, Map<string, Handler>>([
  ["/oauth2/v2.0/authorize", new Map([["GET", worksAuthorize]])],
  ["/oauth2/v2.0/token", new Map([["POST", worksToken]])],
  ["/v1.0/users/me", new Map([["GET", worksMe]])],
  ["/oauth2/v2.0/revoke", new Map([["POST", worksRevoke]])],
  ["/__emulator/works/apps", new Map<string, Handler>([["POST", createApp], ["GET", (ctx, em) => send(ctx, 200, { apps: [...worksOf(em).apps.values()].map(describeApp) })]])],
  ["/__emulator/works/bots", new Map<string, Handler>([["POST", createBot], ["GET", (ctx, em) => send(ctx, 200, { bots: [...worksOf(em).bots.values()].map(({ botId, botSecret, rateLimitPerMinute }) => ({ botId, botSecret, rateLimitPerMinute })) })]])],
  ["/__emulator/works/messages", new Map<string, Handler>([["GET", listMessages], ["DELETE", (ctx, em) => { worksOf(em).messages = []; send(ctx, 204); }]])],
  ["/__emulator/works/callbacks", new Map([["POST", deliverWorksCallback]])],
]);

const APP_PATH = /^\/__emulator\/works\/apps\/([^/]+)(\/tokens)?$/;
const SEND_PATH = /^\/v1\.0\/bots\/([^/]+)\/(users|channels)\/([^/]+)\/messages$/;

/** True for the paths LINE WORKS owns (the auth server's and the API's), for fault answers. */
export function isWorksPath(path: string): boolean {
  return path.startsWith("/oauth2/v2.0/") || path.startsWith("/v1.0/");
}

/** Handlers for a LINE WORKS path, or undefined when the path is not one. */
export function worksRoutes(path: string): Map<string, Handler> | undefined {
  const hit = exact.get(path);
  if (hit) return hit;
  try {
    const a = APP_PATH.exec(path);
    if (a) {
      const id = decodeURIComponent(a[1]!);
      if (a[2]) return new Map([["GET", listTokens(id)]]);
      return new Map<string, Handler>([["GET", (ctx, em) => { const app = appOr404(ctx, em, id); if (app) send(ctx, 200, describeApp(app)); }], ["PATCH", patchApp(id)]]);
    }
    const s = SEND_PATH.exec(path);
    if (s) return new Map([["POST", sendBotMessage(decodeURIComponent(s[1]!), s[2] as "users" | "channels", decodeURIComponent(s[3]!))]]);
  } catch {
    return undefined; // a malformed escape: 404 like any unknown path
  }
  return undefined;
}
