// `kagiya oauth login|token|fetch|revoke`: the grant of a registered provider. Login listens once on
// a loopback redirect (or reads the code from stdin with --manual), trades the code and stores the
// grant; token and fetch take tokens from the engine (refreshed once across processes).
import { spawn } from "node:child_process";
import { InvalidInputError } from "../../core/errors.ts";
import { createAuthorizationRequest, createAuthorizedFetch, exchangeCode } from "../../clients/oauth/index.ts";
import { checkLoopbackRedirect, checkProviderName, insecureHttpAllowed } from "../../kinds/oauth2/registration.ts";
import { engineTokenHolder, registrationRow, resolveGrantProvider, revokeGrant, storeLoginGrant } from "../../tokens/oauth-grants.ts";
import { openTokenContext } from "../../tokens/context.ts";
import { parseArgs, parsePort } from "../args.ts";
import { JSON_FLAG, SEALED_STORE_ENV, STORE_FLAG } from "../help.ts";
import type { CliIO, Command } from "../io.ts";
import { listenForCallback } from "../oauth-loopback.ts";

/** Variables the grant commands read: the store, the master key, the preset origins, insecure http. */
export const OAUTH_ENV = [...SEALED_STORE_ENV, "KAGIYA_LINE_LOGIN_BASE", "KAGIYA_LINE_API_BASE", "KAGIYA_WORKS_AUTH_BASE", "KAGIYA_ALLOW_INSECURE_HTTP"] as const;

const INSECURE = { kind: "boolean", help: "allow plain http endpoints off loopback (never in production)", env: "KAGIYA_ALLOW_INSECURE_HTTP" } as const;

function onlyName(positionals: string[], what: string, extra = ""): string {
  if (positionals.length !== 1) throw new InvalidInputError(`oauth ${what} needs exactly one NAME${extra}`, { field: "NAME" });
  return checkProviderName(positionals[0]);
}

/** Opens the browser on `url`, quietly: the URL is on stderr anyway. */
function openBrowser(url: string): void {
  const [cmd, args] = process.platform === "darwin" ? ["open", [url]] : process.platform === "win32" ? ["cmd", ["/c", "start", "", url]] : ["xdg-open", [url]];
  try {
    const child = spawn(cmd as string, args as string[], { stdio: "ignore", detached: true });
    child.on("error", () => {});
    child.unref();
  } catch {
    // No browser here: the user opens the printed URL.
  }
}

/** What --manual reads: a redirect URL (any scheme) or a bare code. */
function manualCallback(text: string, state: string, issuer: string): string {
  const line = text.trim().split(/\r?\n/)[0]?.trim() ?? "";
  if (line === "") throw new InvalidInputError("--manual: nothing was read from standard input (paste the code or the redirect URL)", { field: "stdin" });
  if (line.length > 8192) throw new InvalidInputError("--manual: the pasted text is over 8192 characters", { field: "stdin" });
  // The whole redirect URL (any scheme), or just its query string.
  if (/^[a-z][a-z0-9+.-]*:/i.test(line)) return line;
  if (/(^|[?&])(code|error)=/.test(line)) return `?${line.replace(/^\?/, "")}`;
  // A bare code shown out of band: the user vouches for it, as for state and iss.
  return `?${new URLSearchParams({ code: line, state, iss: issuer }).toString()}`;
}

export const login: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, {
    manual: { kind: "boolean", help: "read the code, or the whole redirect URL, from standard input instead of listening" },
    port: { kind: "string", value: "N", help: "loopback port to listen on", default: "the registered redirect URI's, else a free one" },
    "no-browser": { kind: "boolean", help: "do not try to open a browser (the URL is printed on stderr either way)" },
    timeout: { kind: "string", value: "SECONDS", help: "give up waiting for the redirect after this long (exit 1)", default: "300" },
    "allow-insecure": INSECURE,
    store: STORE_FLAG,
    json: JSON_FLAG,
  });
  const name = onlyName(positionals, "login");
  const port = flags.port === undefined ? undefined : parsePort(flags.port);
  const timeoutS = flags.timeout === undefined ? 300 : Number(flags.timeout);
  if (!/^\d{1,5}$/.test(flags.timeout ?? "300") || timeoutS < 1 || timeoutS > 86_400) throw new InvalidInputError("--timeout must be whole seconds from 1 to 86400", { field: "--timeout" });
  const ctx = await openTokenContext({ store: flags.store, env: io.env, cwd: io.cwd, mustExist: true, manager: { actor: "cli" } });
  try {
    const row = await registrationRow(ctx, name);
    const resolved = await resolveGrantProvider(ctx, row.channelId, { env: io.env, insecure: flags["allow-insecure"] === true || insecureHttpAllowed(io.env) });
    const reg = resolved.registration;
    let listener: Awaited<ReturnType<typeof listenForCallback>> | undefined;
    let redirectUri: string;
    if (flags.manual) {
      redirectUri = reg.redirectUri ?? `http://127.0.0.1${port ? `:${port}` : ""}/callback`;
    } else {
      const registered = reg.redirectUri === undefined ? undefined : checkLoopbackRedirect(reg.redirectUri, "the registered --redirect-uri");
      const host = registered === undefined || registered.hostname === "localhost" ? "127.0.0.1" : registered.hostname.replace(/^\[|\]$/g, "");
      listener = await listenForCallback({
        host,
        port: port ?? (registered?.port ? Number(registered.port) : 0),
        path: registered?.pathname ?? "/callback",
        timeoutMs: timeoutS * 1000,
        ...(registered?.hostname === "localhost" ? { redirectHost: "localhost" } : {}),
      });
      redirectUri = listener.redirectUri;
    }
    try {
      const pending = await createAuthorizationRequest(resolved.provider, { clientId: reg.clientId, redirectUri, scope: reg.scope, params: resolved.params });
      io.stderr(`open this URL to log in to ${name}:\n${pending.url}\n`);
      if (flags.manual) io.stderr("then paste the code, or the whole URL you were redirected to, and press Enter:\n");
      else if (flags["no-browser"] !== true) openBrowser(pending.url);
      // On a terminal one line is read (echo off: the code is a secret); piped, all of stdin.
      const pasted = flags.manual ? (io.readHiddenLine ? await io.readHiddenLine("code or redirect URL: ") : await io.readStdin()) : undefined;
      const callback = pasted !== undefined ? manualCallback(pasted, pending.state, resolved.provider.issuer) : await listener!.callback;
      const tokens = await exchangeCode(resolved.provider, resolved.client, pending, callback);
      await storeLoginGrant(ctx.manager, name, tokens);
      const who = tokens.idTokenClaims?.sub;
      if (flags.json) io.stdout(JSON.stringify({ name, subject: who ?? null, scope: tokens.scope.join(" "), expiresAt: tokens.expiresAt ?? null, refreshable: tokens.refreshToken !== undefined }) + "\n");
      else io.stdout(`logged in to ${name}${who ? ` as ${who}` : ""}; scope ${tokens.scope.join(" ") || "(none)"}${tokens.refreshToken ? "" : " (no refresh token: log in again when it expires)"}\n`);
    } finally {
      await listener?.close();
    }
  } finally {
    await ctx.close();
  }
  return 0;
};

export const token: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, { "allow-insecure": INSECURE, store: STORE_FLAG, json: JSON_FLAG });
  const name = onlyName(positionals, "token");
  const ctx = await openTokenContext({ store: flags.store, env: io.env, cwd: io.cwd, mustExist: true, manager: { actor: "cli" } });
  try {
    await registrationRow(ctx, name);
    const t = await ctx.manager.get(name);
    io.stdout(flags.json ? JSON.stringify({ access_token: t.accessToken, token_type: t.tokenType, expires_at: Math.floor(t.expiresAt / 1000) }) + "\n" : `${t.accessToken}\n`);
  } finally {
    await ctx.close();
  }
  return 0;
};

/** `-X`, `-H`, `-d` as curl writes them, mapped to the long flags the parser knows. */
const SHORT: Readonly<Record<string, string>> = { "-X": "--method", "-H": "--header", "-d": "--data" };

export const fetchCommand: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv.map((a) => SHORT[a] ?? a), {
    method: { kind: "string", value: "METHOD", help: "HTTP method (short: -X)", default: "GET, or POST with --data" },
    header: { kind: "strings", value: '"K: V"', help: "a request header (short: -H); Authorization is set by kagiya" },
    data: { kind: "string", value: "BODY", help: "request body (short: -d); - reads it from standard input" },
    "allow-insecure": INSECURE,
    store: STORE_FLAG,
  });
  if (positionals.length !== 2) throw new InvalidInputError("oauth fetch needs NAME and URL", { field: "URL" });
  const name = checkProviderName(positionals[0]);
  const url = positionals[1]!;
  try {
    new URL(url);
  } catch {
    throw new InvalidInputError("the URL to fetch is not an absolute URL", { field: "URL" });
  }
  const method = (flags.method ?? (flags.data !== undefined ? "POST" : "GET")).toUpperCase();
  if (!/^[A-Z]{1,16}$/.test(method)) throw new InvalidInputError("--method must be an HTTP method such as GET or POST", { field: "--method" });
  const headers = new Headers();
  for (const h of flags.header ?? []) {
    const colon = h.indexOf(":");
    const key = colon === -1 ? "" : h.slice(0, colon).trim();
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key)) throw new InvalidInputError(`--header must be "Name: value", not ${JSON.stringify(h.slice(0, 40))}`, { field: "--header" });
    if (key.toLowerCase() === "authorization") throw new InvalidInputError("--header Authorization: kagiya sets it from the grant", { field: "--header" });
    headers.append(key, h.slice(colon + 1).trim());
  }
  const body = flags.data === "-" ? await io.readStdin() : flags.data;
  const ctx = await openTokenContext({ store: flags.store, env: io.env, cwd: io.cwd, mustExist: true, manager: { actor: "cli" } });
  try {
    const row = await registrationRow(ctx, name);
    const resolved = await resolveGrantProvider(ctx, row.channelId, { env: io.env, insecure: flags["allow-insecure"] === true || insecureHttpAllowed(io.env) });
    const call = createAuthorizedFetch({ holder: engineTokenHolder(ctx.manager, name), allowedOrigins: resolved.apiOrigins, allowInsecureHttp: resolved.registration.allowInsecure });
    const res = await call(url, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    io.stdout(text.endsWith("\n") || text === "" ? text : `${text}\n`);
    if (res.status >= 400) {
      io.stderr(`kagiya: ${method} ${new URL(url).pathname} answered HTTP ${res.status}\n`);
      return 1;
    }
  } finally {
    await ctx.close();
  }
  return 0;
};

export const revokeCommand: Command = async (argv, io: CliIO) => {
  const { flags, positionals } = parseArgs(argv, { "allow-insecure": INSECURE, store: STORE_FLAG, json: JSON_FLAG });
  const name = onlyName(positionals, "revoke");
  const ctx = await openTokenContext({ store: flags.store, env: io.env, cwd: io.cwd, mustExist: true, manager: { actor: "cli" } });
  try {
    await registrationRow(ctx, name);
    const revoked = await revokeGrant(ctx, name, { env: io.env, insecure: flags["allow-insecure"] === true });
    const detail = { revoked: "grant revoked at the provider", none: "no grant stored", forgotten: "the provider has no revocation endpoint: grant forgotten here only" }[revoked];
    await ctx.store.appendAudit({ at: Date.now(), action: "oauth.revoke", actor: "cli", channelId: name, keyId: null, detail });
    if (flags.json) io.stdout(JSON.stringify({ name, revoked: revoked === "revoked", result: revoked }) + "\n");
    else if (revoked === "revoked") io.stdout(`revoked the grant of ${name} at the provider; log in again with: kagiya oauth login ${name}\n`);
    else if (revoked === "forgotten") io.stdout(`${name}: the provider has no revocation endpoint, so the grant is forgotten here but stays valid there until it expires\n`);
    else io.stdout(`${name} has no grant to revoke\n`);
  } finally {
    await ctx.close();
  }
  return 0;
};
