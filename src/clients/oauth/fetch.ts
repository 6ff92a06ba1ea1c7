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
    const f = options.fetch ?? fetch;
    const signal = init?.signal ?? undefined;
    const holderOptions = signal ? { signal } : {};
    let send: (token: string) => Promise<Response>;
    let url: string;
    if (!(input instanceof Request) && (init?.body === undefined || init.body === null || typeof init.body === "string")) {
      // The common case (no body, or a string one): plain options, nothing to copy for the retry.
      url = String(input);
      send = (token) => {
        const headers = new Headers(init?.headers);
        headers.set("authorization", `Bearer ${token}`);
        return f(url, { ...init, headers });
      };
    } else {
      const base = new Request(input, init);
      url = base.url;
      // Keep an unread copy of the body for the one retry.
      const copies = [base, base.clone()];
      send = (token) => {
        const request = copies.shift()!;
        const headers = new Headers(request.headers);
        headers.set("authorization", `Bearer ${token}`);
        return f(new Request(request, { headers }));
      };
    }
    let origin: string;
    try {
      origin = new URL(url).origin;
    } catch {
      throw new OAuthError("ERR_OAUTH_CONFIG", "the URL to fetch is not absolute");
    }
    if (!origins.has(origin)) {
      throw new OAuthError("ERR_OAUTH_ORIGIN_NOT_ALLOWED", `${origin} is not an origin this grant's token may be sent to`);
    }
    const token = await holder.current(holderOptions);
    const first = await send(token);
    if (first.status !== 401) return first;
    await first.body?.cancel();
    const next = await holder.renew(token, holderOptions);
    return send(next);
  };
}
