// A real authorization server for tests: oidc-provider (panva) in-process on 127.0.0.1, with a
// confidential client, PKCE required, revocation and introspection on, refresh-token rotation and
// a short access-token TTL. Logins are driven headlessly through its development interactions
// (plain HTTP with a cookie jar: follow redirects, post the login and consent forms). Also a small
// resource server that checks bearer tokens by introspection at that provider.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import Provider from "oidc-provider";
import {
  clientSecretBasic, createAuthorizationRequest, discoverProvider,
  type OAuthClient, type PendingAuthorization, type Provider as OAuthProvider,
} from "../../src/clients/oauth/index.ts";

/** A running oidc-provider. */
export interface TestOidc {
  issuer: string;
  /** Where it listens: the issuer, unless `publicUrl` put a proxy in front. */
  url: string;
  /** The confidential client (client_secret_basic) every test can use. */
  client: { clientId: string; clientSecret: string; redirectUri: string };
  provider: Provider;
  /** RFC 7662 introspection as the confidential client: is this token active? */
  introspect(token: string): Promise<{ active: boolean; [k: string]: unknown }>;
  /** Events the provider emitted, by name (e.g. `grant.revoked`, `refresh_token.consumed`). */
  events: Map<string, number>;
  close(): Promise<void>;
}

/** Options of {@link startOidcProvider}. */
export interface TestOidcOptions {
  /** Access token lifetime, seconds (default 5). */
  accessTokenTtlS?: number;
  /** Further client registrations (oidc-provider client metadata). */
  clients?: Array<Record<string, unknown>>;
  /** The issuer as clients reach it (a proxy in front); default the provider's own loopback URL. */
  publicUrl?: string;
  /** Lifetimes (seconds) over the defaults, by oidc-provider model name (`RefreshToken`, `Grant`, …). */
  ttl?: Record<string, number>;
  /** RFC 7009 revocation endpoint (default on). */
  revocation?: boolean;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

/**
 * Starts oidc-provider on a free loopback port.
 *
 * @example
 * ```ts
 * const oidc = await startOidcProvider();
 * after(() => oidc.close());
 * ```
 */
export async function startOidcProvider(options: TestOidcOptions = {}): Promise<TestOidc> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => { res.statusCode = 503; res.end(); };
  const server = createServer((req, res) => handler(req, res));
  const port = await listen(server);
  const url = `http://127.0.0.1:${port}`;
  const issuer = options.publicUrl ?? url;
  const client = { clientId: "kagiya-test", clientSecret: randomBytes(24).toString("base64url"), redirectUri: "http://127.0.0.1:53682/callback" };
  const signing = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: client.clientId,
        client_secret: client.clientSecret,
        redirect_uris: [client.redirectUri],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
      ...(options.clients ?? []),
    ],
    jwks: { keys: [{ ...signing, kid: "test-rs256", use: "sig", alg: "RS256" }] },
    findAccount: (_ctx: unknown, id: string) => ({ accountId: id, claims: async () => ({ sub: id, name: `User ${id}` }) }),
    claims: { openid: ["sub"], profile: ["name"] },
    pkce: { required: () => true },
    features: { revocation: { enabled: options.revocation ?? true }, introspection: { enabled: true }, devInteractions: { enabled: true } },
    rotateRefreshToken: true,
    ttl: { AccessToken: options.accessTokenTtlS ?? 5, AuthorizationCode: 60, IdToken: 3600, RefreshToken: 86_400, Grant: 86_400, Interaction: 600, Session: 86_400, ...options.ttl },
    cookies: { keys: [randomBytes(16).toString("hex")] },
  });
  const events = new Map<string, number>();
  for (const name of ["grant.revoked", "refresh_token.consumed", "refresh_token.destroyed", "access_token.issued", "grant.success", "grant.error"]) {
    provider.on(name, () => events.set(name, (events.get(name) ?? 0) + 1));
  }
  handler = provider.callback();
  return {
    issuer,
    url,
    client,
    provider,
    events,
    async introspect(token) {
      const res = await fetch(`${url}/token/introspection`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${btoa(`${client.clientId}:${client.clientSecret}`)}` },
        body: new URLSearchParams({ token }).toString(),
      });
      if (res.status !== 200) throw new Error(`introspection answered ${res.status}`);
      return (await res.json()) as { active: boolean };
    },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** Options of {@link headlessLogin}. */
export interface HeadlessLoginOptions {
  /** The account to log in as (default `alice`). */
  account?: string;
  /** Abort at the login screen: the callback then carries `error=access_denied`. */
  deny?: boolean;
  /** The browser's cookies at the provider, kept across logins (its session there); default a new jar. */
  jar?: Map<string, string>;
}

/**
 * Drives a login through oidc-provider's development interactions without a browser: follows
 * redirects with a cookie jar, posts the login and consent forms, and returns the redirect to the
 * client's redirect URI (nothing needs to listen there). Works for any server whose final redirect
 * leaves its own origin (the kagiya emulator's LINE Login answers it at once).
 *
 * @example
 * ```ts
 * const callback = await headlessLogin(pending.url);
 * const tokens = await exchangeCode(provider, client, pending, callback);
 * ```
 */
export async function headlessLogin(authorizationUrl: string, options: HeadlessLoginOptions = {}): Promise<string> {
  const origin = new URL(authorizationUrl).origin;
  const jar = options.jar ?? new Map<string, string>();
  let url = authorizationUrl;
  let method = "GET";
  let body: string | undefined;
  for (let hop = 0; hop < 20; hop++) {
    const headers: Record<string, string> = { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; ") };
    if (body !== undefined) headers["content-type"] = "application/x-www-form-urlencoded";
    const res = await fetch(url, { method, headers, body: body ?? null, redirect: "manual" });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some((a) => /expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === "") jar.delete(name);
      else jar.set(name, value);
    }
    method = "GET";
    body = undefined;
    const location = res.headers.get("location");
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      const next = new URL(location, url);
      if (next.origin !== origin) return next.href;
      url = next.href;
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`login step ${url} answered ${res.status}: ${html.slice(0, 300)}`);
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
    if (!action || !prompt) throw new Error(`login step ${url}: no form found`);
    const target = new URL(action.replace(/&amp;/g, "&"), url);
    if (options.deny) {
      url = `${target.href.replace(/\/$/, "")}/abort`;
      continue;
    }
    url = target.href;
    method = "POST";
    body = new URLSearchParams(prompt === "login" ? { prompt, login: options.account ?? "alice", password: "x" } : { prompt }).toString();
  }
  throw new Error("login did not finish within 20 steps");
}

/**
 * A resource server that answers 200 `{sub}` to an active bearer token (by introspection) and 401
 * otherwise; `/reject` always answers 401, `/redirect-away?to=URL` redirects.
 */
export interface TestResource {
  url: string;
  /** Authorization headers received, in order (undefined when none was sent). */
  seen: Array<string | undefined>;
  /** Tokens this server stops accepting (as a resource server may for its own reasons) while the grant lives on. */
  refused: Set<string>;
  close(): Promise<void>;
}

/**
 * Starts a resource server on a free loopback port, checking tokens at `oidc`.
 *
 * @example
 * ```ts
 * const api = await startResourceServer(oidc);
 * ```
 */
export async function startResourceServer(oidc: TestOidc): Promise<TestResource> {
  const seen: Array<string | undefined> = [];
  const refused = new Set<string>();
  const server = createServer((req, res) => {
    const auth = req.headers.authorization;
    seen.push(auth);
    void (async () => {
      if (req.url?.startsWith("/redirect-away?to=")) {
        res.writeHead(302, { location: decodeURIComponent(req.url.slice("/redirect-away?to=".length)) }).end();
        return;
      }
      const token = /^Bearer (.+)$/.exec(auth ?? "")?.[1];
      const info = token && !refused.has(token) && !req.url?.startsWith("/reject") ? await oidc.introspect(token) : { active: false };
      if (!info.active) {
        res.writeHead(401, { "www-authenticate": 'Bearer error="invalid_token"', "content-type": "application/json" }).end('{"error":"invalid_token"}');
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ sub: info["sub"], path: req.url }));
    })().catch(() => res.writeHead(500).end());
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    refused,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** A provider, its discovered kagiya {@link Provider}, the confidential client, and a login helper. */
export interface OidcFixture {
  oidc: TestOidc;
  provider: OAuthProvider;
  client: OAuthClient;
  /** A fresh authorization request for `scope` (default openid, profile, offline_access), logged in headlessly. */
  login(options?: HeadlessLoginOptions & { client?: OAuthClient; scope?: string }): Promise<{ pending: PendingAuthorization; callback: string }>;
  close(): Promise<void>;
}

/**
 * Starts oidc-provider and discovers it with kagiya's client.
 *
 * @example
 * ```ts
 * const fx = await startOidcFixture();
 * const { pending, callback } = await fx.login();
 * const tokens = await exchangeCode(fx.provider, fx.client, pending, callback);
 * ```
 */
export async function startOidcFixture(options: TestOidcOptions = {}): Promise<OidcFixture> {
  const oidc = await startOidcProvider(options);
  const provider = await discoverProvider(oidc.issuer);
  const client: OAuthClient = { clientId: oidc.client.clientId, auth: clientSecretBasic(oidc.client.clientSecret) };
  return {
    oidc,
    provider,
    client,
    async login(opts = {}) {
      const c = opts.client ?? client;
      const pending = await createAuthorizationRequest(provider, { clientId: c.clientId, redirectUri: oidc.client.redirectUri, scope: opts.scope ?? "openid profile offline_access" });
      return { pending, callback: await headlessLogin(pending.url, opts) };
    },
    close: () => oidc.close(),
  };
}

/**
 * A proxy rewrite (test/clients/line/proxy.ts) that changes the `sub` of the ID token in a token
 * endpoint's answer, keeping the signature: what a tampering party in the middle would send.
 */
export function tamperIdTokenSub(req: { url: string }, res: { status: number; body: string; headers: Record<string, string> }): { status: number; body: string; headers: Record<string, string> } | undefined {
  if (req.url !== "/token" || res.status !== 200) return undefined;
  const body = JSON.parse(res.body) as { id_token: string };
  const [h, p, s] = body.id_token.split(".");
  const claims = JSON.parse(Buffer.from(p!, "base64url").toString("utf8")) as Record<string, unknown>;
  claims["sub"] = "mallory";
  body.id_token = `${h}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${s}`;
  return { ...res, body: JSON.stringify(body) };
}

/**
 * oidc-provider metadata of a confidential native client (client_secret_basic) whose loopback
 * redirect URIs match on any port (RFC 8252 §7.3), as `kagiya oauth login` and a test broker need.
 */
export function nativeClient(clientId: string, clientSecret: string, redirectPaths: readonly string[] = ["/callback"]): Record<string, unknown> {
  return {
    client_id: clientId, client_secret: clientSecret, application_type: "native",
    redirect_uris: redirectPaths.map((p) => `http://127.0.0.1${p}`), grant_types: ["authorization_code", "refresh_token"], response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
  };
}
