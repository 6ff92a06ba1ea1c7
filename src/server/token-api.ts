import type { IncomingMessage, ServerResponse } from "node:http";
import type { ManagedToken } from "../tokens/types.ts";
import type { ApiKeyRow } from "../store/types.ts";
import type { ServerContext } from "./context.ts";
import type { RouteHandler, Router } from "./router.ts";
import { CHANNEL_ID_PATTERN, CREDENTIAL_ID_PATTERN } from "./apikeys.ts";
import { HttpError } from "./errors.ts";
import { toHttpError } from "./context.ts";

/** How often one key's use is written to the audit log and its lastUsedAt touched, per instance. */
const USE_RECORD_MS = 60_000;

/**
 * Mounts `GET /v1/channels/{id}/token` and, for any kind of credential, `GET /v1/credentials/{id}/token`:
 * Bearer API key (401), credential ID shape (400),
 * per-key rate limit (429 + Retry-After), scope (403, the same for channels that do not exist),
 * then the managed token as `{access_token, token_type, expires_at, key_id}` with
 * `Cache-Control: no-store`. `expires_at` is epoch seconds.
 *
 * @example
 * ```ts
 * mountTokenApi(router, context);
 * ```
 */
export function mountTokenApi(router: Router, ctx: ServerContext): void {
  /** Per key: when its use was last recorded, and uses since then (each row says how many it stands for). */
  const recorded = new Map<string, { at: number; uses: number }>();
  const ok = ctx.metrics.tokenApi.labels("ok");
  const refused = ctx.metrics.tokenApi.labels("refused");
  const failed = ctx.metrics.tokenApi.labels("failed");

  /**
   * A key the cache cannot answer for: one store read, unless this address keeps sending bad keys
   * and this key was never found good (so a flood from behind the same proxy spares known keys).
   */
  const lookUp = (req: IncomingMessage, header: string | undefined): Promise<ApiKeyRow> => {
    const wait = ctx.authFailureLimiter.peek(req.socket.remoteAddress ?? "?");
    if (wait > 0 && !ctx.apiKeys.knownGood(header)) {
      return Promise.reject(new HttpError(429, "ERR_RATE_LIMITED", `too many requests with bad API keys from this address; retry after ${wait} s`, { headers: { "retry-after": String(wait) } }));
    }
    return ctx.apiKeys.authenticate(header);
  };

  /** A refusal before the token is read: counted, and a bad key counts against its address. */
  const refuse = (req: IncomingMessage, error: unknown): never => {
    const http = toHttpError(error, ctx.now());
    if (http.status === 401) ctx.authFailureLimiter.take(req.socket.remoteAddress ?? "?");
    refused.inc();
    throw http;
  };

  /** The token could not be had (LINE down, channel removed, store failing). */
  const failToken = (channelId: string, error: unknown): never => {
    const http = toHttpError(error, ctx.now());
    failed.inc();
    if (http.status >= 500) ctx.log.warn({ channelId, code: http.code }, "token API could not hand out a token");
    throw http;
  };

  /** The answer for a token, built once per token: tokens are immutable and served many times. */
  const answers = new WeakMap<ManagedToken, { body: string; headers: Record<string, string | number> }>();
  const answerFor = (token: ManagedToken): { body: string; headers: Record<string, string | number> } => {
    let answer = answers.get(token);
    if (answer === undefined) {
      const body = JSON.stringify({
        access_token: token.accessToken,
        token_type: token.tokenType,
        expires_at: Math.floor(token.expiresAt / 1000),
        key_id: token.keyId,
      });
      const headers = {
        "content-type": "application/json; charset=utf-8",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        "content-length": Buffer.byteLength(body),
      };
      answers.set(token, (answer = { body, headers }));
    }
    return answer;
  };

  /** The path's ID shape: a LINE channel ID under /v1/channels, any credential ID under /v1/credentials. */
  const shapes = {
    channel: { pattern: CHANNEL_ID_PATTERN, message: "the channel ID in the path must be decimal digits, as in the LINE Developers Console" },
    credential: { pattern: CREDENTIAL_ID_PATTERN, message: 'the credential ID in the path must be 1 to 64 letters, digits, ".", "_" and "-", starting with a letter or digit' },
  } as const;
  type Shape = (typeof shapes)[keyof typeof shapes];

  /**
   * Whether the key may read this credential's token. A key may name thousands (one per
   * credential a service reads): those are looked up in a set built once per key row, not scanned.
   */
  const scopes = new WeakMap<ApiKeyRow, ReadonlySet<string>>();
  const inScope = (key: ApiKeyRow, id: string): boolean => {
    if (key.channels.length <= 8) return key.channels.includes(id);
    let scope = scopes.get(key);
    if (scope === undefined) scopes.set(key, (scope = new Set(key.channels)));
    return scope.has(id);
  };

  /** Key checks that need no I/O: ID shape (400), rate limit (429), scope (403). */
  const admit = (key: ApiKeyRow, channelId: string, shape: Shape): void => {
    if (!shape.pattern.test(channelId)) throw new HttpError(400, "ERR_BAD_REQUEST", shape.message);
    const wait = ctx.limiter.take(key.id);
    if (wait > 0) {
      throw new HttpError(429, "ERR_RATE_LIMITED", `API key ${key.id} is over its rate limit; retry after ${wait} s`, { headers: { "retry-after": String(wait) } });
    }
    if (!inScope(key, channelId)) {
      // Same answer whether or not the channel exists, so keys cannot probe for channels.
      throw new HttpError(403, "ERR_FORBIDDEN", "this API key has no access to that channel");
    }
  };

  const send = (res: ServerResponse, key: ApiKeyRow, channelId: string, token: ManagedToken): void => {
    const now = ctx.now();
    const last = recorded.get(key.id);
    if (last !== undefined && now - last.at < USE_RECORD_MS) last.uses++;
    else {
      if (recorded.size > 10_000) recorded.clear();
      recorded.set(key.id, { at: now, uses: 0 });
      const more = last !== undefined && last.uses > 0 ? `; ${last.uses} more uses on this instance since the previous record` : "";
      void ctx.audit({ at: now, action: "apikey.use", actor: `apikey:${key.id}`, channelId, keyId: key.id, detail: `token ${token.keyId}${more}` });
      ctx.store.touchApiKey(key.id, now).catch((error: unknown) => ctx.log.warn({ err: String(error) }, "could not record API key use"));
    }
    ok.inc();
    const answer = answerFor(token);
    res.writeHead(200, answer.headers);
    res.end(answer.body);
  };

  /** After the key is known: synchronous when the token is in memory (the common case). */
  const serve = (req: IncomingMessage, res: ServerResponse, key: ApiKeyRow, channelId: string, shape: Shape): void | Promise<void> => {
    try {
      admit(key, channelId, shape);
    } catch (error) {
      refuse(req, error);
    }
    const token = ctx.tokens.peek(channelId);
    if (token !== undefined) return send(res, key, channelId, token);
    return ctx.tokens.get(channelId).then(
      (t) => send(res, key, channelId, t),
      (error: unknown) => failToken(channelId, error),
    );
  };

  // Not an async function: a cached key and an in-memory token are answered without a promise.
  const routeFor = (shape: Shape): RouteHandler => ({ req, res, params }) => {
    // HEAD would hand out nothing yet spend the rate limit and record a use.
    if (req.method === "HEAD") throw new HttpError(405, "ERR_METHOD_NOT_ALLOWED", "use GET to read a token", { headers: { allow: "GET" } });
    const channelId = params["id"]!;
    const header = authorizationOf(req);
    let key: ApiKeyRow | undefined;
    try {
      key = ctx.apiKeys.cached(header);
    } catch (error) {
      refuse(req, error);
    }
    if (key !== undefined) return serve(req, res, key, channelId, shape);
    return lookUp(req, header).then(
      (k) => serve(req, res, k, channelId, shape),
      (error: unknown) => refuse(req, error),
    );
  };
  router.add("GET", "/v1/channels/:id/token", routeFor(shapes.channel));
  // The same for any kind of credential (a LINE channel is one; a LINE WORKS app has a readable ID).
  router.add("GET", "/v1/credentials/:id/token", routeFor(shapes.credential));
}

/**
 * The Authorization header, or undefined (answered like a missing key) when it was sent more
 * than once: Node keeps the first, and a proxy in front may have checked another.
 */
function authorizationOf(req: IncomingMessage): string | undefined {
  const raw = req.rawHeaders;
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 13 && name.toLowerCase() === "authorization" && ++seen > 1) return undefined;
  }
  return req.headers.authorization;
}
