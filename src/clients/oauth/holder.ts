/**
 * Who owns a grant's tokens. The authorized fetch asks a {@link TokenHolder} for a token and, after
 * a 401, for a newer one; it never refreshes by itself. {@link MemoryTokenHolder} keeps them in this
 * process (one refresh at a time, ahead of expiry, an `onTokens` hook that never loses a token); the
 * credential engine will provide a holder that keeps them sealed in the store, shared by processes.
 */
import type { OAuthClient } from "./client-auth.ts";
import { OAuthError } from "./errors.ts";
import type { OAuthCallOptions } from "./http.ts";
import type { Provider } from "./provider.ts";
import { refreshTokens, type TokenSet } from "./token.ts";

/**
 * The port between the authorized fetch and whatever keeps the tokens.
 *
 * @example
 * ```ts
 * const holder: TokenHolder = { current: async () => "static-token", renew: async () => { throw new Error("no refresh"); } };
 * ```
 */
export interface TokenHolder {
  /** An access token fit to send now; refreshes first when the current one is due. */
  current(options?: { signal?: AbortSignal }): Promise<string>;
  /**
   * `rejected` was refused by a resource server (401): returns a different token, refreshing unless
   * another caller already replaced it. Throws `ERR_OAUTH_REAUTH_REQUIRED` when none can be had.
   */
  renew(rejected: string, options?: { signal?: AbortSignal }): Promise<string>;
}

/** Options of {@link MemoryTokenHolder}. */
export interface MemoryTokenHolderOptions extends Omit<OAuthCallOptions, "signal"> {
  /** Refresh this long before `expiresAt`, ms (default 60,000). */
  refreshLeewayMs?: number;
  /**
   * Called with every new token set (the seed's `token_updater`). Its failure never loses tokens:
   * the set stays in use and the hook is called again before the next token is handed out.
   */
  onTokens?: (tokens: TokenSet) => void | Promise<void>;
}

/** Default refresh leeway: 60 seconds before expiry. */
export const REFRESH_LEEWAY_MS = 60_000;

/**
 * Holds one grant's tokens in memory. Refreshes at most once at a time (concurrent callers share
 * the refresh), ahead of expiry by `refreshLeewayMs`, and keeps the old refresh token when the
 * server does not rotate it. A refresh refused with `invalid_grant` becomes `ERR_OAUTH_REAUTH_REQUIRED`.
 *
 * @example
 * ```ts
 * const holder = new MemoryTokenHolder(provider, client, tokens, { onTokens: (t) => save(t) });
 * const api = createAuthorizedFetch({ holder, allowedOrigins: ["https://api.example.com"] });
 * ```
 */
export class MemoryTokenHolder implements TokenHolder {
  readonly #provider: Provider;
  readonly #client: OAuthClient;
  readonly #options: MemoryTokenHolderOptions;
  #tokens: TokenSet;
  #refreshing: Promise<TokenSet> | undefined;
  #unsaved = false;
  /** Refreshes done by this holder (for tests and metrics). */
  refreshCount = 0;

  constructor(provider: Provider, client: OAuthClient, tokens: TokenSet, options: MemoryTokenHolderOptions = {}) {
    this.#provider = provider;
    this.#client = client;
    this.#tokens = tokens;
    this.#options = options;
  }

  /** The current token set (a copy). */
  get tokens(): TokenSet {
    return { ...this.#tokens };
  }

  async current(options: { signal?: AbortSignal } = {}): Promise<string> {
    const t = this.#tokens;
    const now = (this.#options.now ?? Date.now)();
    const leeway = this.#options.refreshLeewayMs ?? REFRESH_LEEWAY_MS;
    const due = t.expiresAt !== undefined && now >= t.expiresAt - leeway;
    if (due && t.refreshToken) return (await waitFor(this.#refresh(t), options.signal)).accessToken;
    if (t.expiresAt !== undefined && now >= t.expiresAt) throw new OAuthError("ERR_OAUTH_REAUTH_REQUIRED", "the access token has expired and there is no refresh token: log in again");
    await this.#flush();
    return t.accessToken;
  }

  async renew(rejected: string, options: { signal?: AbortSignal } = {}): Promise<string> {
    const t = this.#tokens;
    if (t.accessToken !== rejected) return t.accessToken;
    if (!t.refreshToken) throw new OAuthError("ERR_OAUTH_REAUTH_REQUIRED", "the access token was refused and there is no refresh token: log in again");
    return (await waitFor(this.#refresh(t), options.signal)).accessToken;
  }

  // The caller's signal is deliberately not passed on: the refresh is shared by every waiting
  // caller, and abandoning one after the server rotated the refresh token would lose the grant.
  #refresh(from: TokenSet): Promise<TokenSet> {
    if (this.#refreshing) return this.#refreshing;
    const run = async (): Promise<TokenSet> => {
      let next: TokenSet;
      try {
        next = await refreshTokens(this.#provider, this.#client, from, { fetch: this.#options.fetch, now: this.#options.now });
      } catch (error) {
        if ((error as OAuthError).code === "ERR_OAUTH_INVALID_GRANT") {
          throw new OAuthError("ERR_OAUTH_REAUTH_REQUIRED", "the refresh token was refused (invalid_grant): log in again", { cause: error });
        }
        throw error;
      }
      this.refreshCount++;
      this.#tokens = next;
      this.#unsaved = true;
      await this.#flush();
      return next;
    };
    const p = run().finally(() => { this.#refreshing = undefined; });
    this.#refreshing = p;
    return p;
  }

  async #flush(): Promise<void> {
    if (!this.#unsaved || !this.#options.onTokens) return;
    const t = this.#tokens;
    try {
      await this.#options.onTokens({ ...t });
      if (this.#tokens === t) this.#unsaved = false;
    } catch {
      // Kept in memory and offered again on the next call: never lost, never blocking the request.
    }
  }
}

/** Waits for `p` unless `signal` fires first; `p` itself runs on (its result stays in the holder). */
function waitFor<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
