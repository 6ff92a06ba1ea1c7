import type { IncomingMessage } from "node:http";
import type { ApiKeyRow } from "../store/types.ts";
import type { ServerContext } from "./context.ts";
import type { Router } from "./router.ts";
import { CHANNEL_ID_PATTERN } from "./apikeys.ts";
import { HttpError } from "./errors.ts";
import { toHttpError } from "./context.ts";

/** How often one key's use is written to the audit log and its lastUsedAt touched, per instance. */
const USE_RECORD_MS = 60_000;

/**
 * Mounts `GET /v1/channels/{channelId}/token`: Bearer API key (401), channel ID shape (400),
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
  const lookUp = (req: IncomingMessage): Promise<ApiKeyRow> => {
    const wait = ctx.authFailureLimiter.peek(req.socket.remoteAddress ?? "?");
    if (wait > 0 && !ctx.apiKeys.knownGood(req.headers.authorization)) {
      return Promise.reject(new HttpError(429, "ERR_RATE_LIMITED", `too many requests with bad API keys from this address; retry after ${wait} s`, { headers: { "retry-after": String(wait) } }));
    }
    return ctx.apiKeys.authenticate(req.headers.authorization);
  };

  router.add("GET", "/v1/channels/:channelId/token", async ({ req, res, params }) => {
    let stage = "auth";
    // HEAD would hand out nothing yet spend the rate limit and record a use.
    if (req.method === "HEAD") throw new HttpError(405, "ERR_METHOD_NOT_ALLOWED", "use GET to read a token", { headers: { allow: "GET" } });
    try {
      const key = ctx.apiKeys.cached(req.headers.authorization) ?? (await lookUp(req));
      const channelId = params["channelId"]!;
      if (!CHANNEL_ID_PATTERN.test(channelId)) {
        throw new HttpError(400, "ERR_BAD_REQUEST", "the channel ID in the path must be decimal digits, as in the LINE Developers Console");
      }
      const wait = ctx.limiter.take(key.id);
      if (wait > 0) {
        throw new HttpError(429, "ERR_RATE_LIMITED", `API key ${key.id} is over its rate limit; retry after ${wait} s`, { headers: { "retry-after": String(wait) } });
      }
      if (!key.channels.includes(channelId)) {
        // Same answer whether or not the channel exists, so keys cannot probe for channels.
        throw new HttpError(403, "ERR_FORBIDDEN", "this API key has no access to that channel");
      }
      stage = "token";
      const token = await ctx.tokens.get(channelId);
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
      const body = JSON.stringify({
        access_token: token.accessToken,
        token_type: token.tokenType,
        expires_at: Math.floor(token.expiresAt / 1000),
        key_id: token.keyId,
      });
      res.writeHead(200, {
        "content-type": "application/json; charset=utf-8",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        "content-length": Buffer.byteLength(body),
      });
      res.end(body);
    } catch (error) {
      const http = toHttpError(error, ctx.now());
      if (http.status === 401) ctx.authFailureLimiter.take(req.socket.remoteAddress ?? "?");
      if (stage === "token") {
        failed.inc();
        if (http.status >= 500) ctx.log.warn({ channelId: params["channelId"], code: http.code }, "token API could not hand out a token");
      } else refused.inc();
      throw http;
    }
  });
}
