/**
 * The authorized fetch: the seed's `session.get(url)`. It sends the bearer token only to the
 * origins configured for the grant (anything else is refused before a byte leaves), gets the token
 * from a {@link TokenHolder} (which refreshes ahead of expiry), and on a 401 asks the holder once for
 * a newer token and retries once. Redirects to another origin lose the Authorization header (fetch
 * drops it on cross-origin redirects), so the token never follows a redirect away.
 */
import { OAuthError } from "./errors.ts";
import { checkUrl } from "./http.ts";
import type { TokenHolder } from "./holder.ts";

/** Options of {@link createAuthorizedFetch}. */
export interface AuthorizedFetchOptions {
  holder: TokenHolder;
  /** Origins (or URLs, whose origin is taken) the token may be sent to. https, or http on loopback. */
  allowedOrigins: readonly string[];
  /** Allow http origins off loopback. Default false. */
  allowInsecureHttp?: boolean;
  /** Defaults to the global `fetch`. */
  fetch?: typeof fetch;
}

/** A fetch that authorizes itself. */
export type AuthorizedFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * Creates an authorized fetch. Throws `ERR_OAUTH_CONFIG`/`ERR_OAUTH_INSECURE_HTTP` for a bad origin;
 * the returned function throws `ERR_OAUTH_ORIGIN_NOT_ALLOWED` for a URL outside them, and
 * `ERR_OAUTH_REAUTH_REQUIRED` when the holder has no usable token.
 *
 * @example
 * ```ts
 * const api = createAuthorizedFetch({ holder, allowedOrigins: ["https://api.line.me"] });
 * const profile = await (await api("https://api.line.me/v2/profile")).json();
 * ```
 */
export function createAuthorizedFetch(options: AuthorizedFetchOptions): AuthorizedFetch {
  const origins = new Set(options.allowedOrigins.map((o) => checkUrl(o, "allowedOrigins", options.allowInsecureHttp === true).origin));
  if (origins.size === 0) throw new OAuthError("ERR_OAUTH_CONFIG", "allowedOrigins is empty: the token would never be sent");
  const holder = options.holder;
  return async (input, init) => {
    const base = new Request(input, init);
    const origin = new URL(base.url).origin;
    if (!origins.has(origin)) {
      throw new OAuthError("ERR_OAUTH_ORIGIN_NOT_ALLOWED", `${origin} is not an origin this grant's token may be sent to`);
    }
    const f = options.fetch ?? fetch;
    const signal = init?.signal ?? undefined;
    // Keep an unread copy of the body for the one retry.
    const spare = base.clone();
    const send = (request: Request, token: string): Promise<Response> => {
      const headers = new Headers(request.headers);
      headers.set("authorization", `Bearer ${token}`);
      return f(new Request(request, { headers }));
    };
    const token = await holder.current(signal ? { signal } : {});
    const first = await send(base, token);
    if (first.status !== 401) return first;
    await first.body?.cancel();
    const next = await holder.renew(token, signal ? { signal } : {});
    return send(spare, next);
  };
}
