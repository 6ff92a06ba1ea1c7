import type { ManagedToken, TokenSource } from "../tokens/types.ts";

/** Options of {@link ServeWhileRefreshing}. Durations in ms. */
export interface ServeWhileRefreshingOptions {
  /** A remembered token is only served while it was confirmed by the source this recently (default 300000). */
  maxAgeMs?: number;
  /** ...and while it has at least this much life left (default 300000, the policy's default minimum). */
  minRemainingMs?: number;
  /**
   * How long the source gets to answer before the remembered token is served (default 25): long
   * enough for a store read, so a revocation or a newer token the store knows of always wins,
   * short enough that a call to LINE never holds a read up.
   */
  waitMs?: number;
  now?: () => number;
}

interface Last {
  token: ManagedToken;
  /** The source's promise it came from; null when it was seen through peek(). */
  promise: Promise<ManagedToken> | null;
  /** When the source last handed it out (from its memory or anew). */
  at: number;
}

/**
 * Makes token reads never wait on LINE: when the source's `get()` has to go to the store or to
 * LINE (a refresh at the refresh point), the token it handed out last is served at once while
 * the refresh goes on in the background, as long as that token was confirmed recently and has
 * ample life left. `invalidate()` and {@link forget} drop the remembered token, so a token LINE
 * rejected or kagiya revoked is never served from here.
 *
 * @example
 * ```ts
 * const tokens = new ServeWhileRefreshing(manager);
 * const t = await tokens.get("1234567890"); // never waits on LINE while a valid token is known
 * ```
 */
export class ServeWhileRefreshing implements TokenSource {
  readonly #source: TokenSource;
  readonly #maxAge: number;
  readonly #minRemaining: number;
  readonly #wait: number;
  readonly #now: () => number;
  readonly #last = new Map<string, Last>();

  constructor(source: TokenSource, options: ServeWhileRefreshingOptions = {}) {
    this.#source = source;
    this.#maxAge = options.maxAgeMs ?? 300_000;
    this.#minRemaining = options.minRemainingMs ?? 300_000;
    this.#wait = options.waitMs ?? 25;
    this.#now = options.now ?? Date.now;
  }

  get(channelId: string): Promise<ManagedToken> {
    const p = this.#source.get(channelId);
    const last = this.#last.get(channelId);
    // Hot path: the source answered from memory with the same promise as last time, which
    // confirms the token again (the source's memory is itself re-checked against the store).
    if (last !== undefined && last.promise === p) {
      last.at = this.#now();
      return p;
    }
    const track = p.then((token) => {
      this.#last.set(channelId, { token, promise: p, at: this.#now() });
      return token;
    });
    const now = this.#now();
    if (last === undefined || now - last.at > this.#maxAge || last.token.expiresAt - now <= this.#minRemaining) return track;
    // Whatever the source answers within the wait wins, failures included (a revoked or removed
    // channel must not be served from here); only a source still busy after it loses to the
    // known token.
    const known = last.token;
    return new Promise<ManagedToken>((resolve, reject) => {
      const timer = setTimeout(() => resolve(known), this.#wait);
      track.then(
        (token) => {
          clearTimeout(timer);
          resolve(token);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  /**
   * The source's in-memory token, synchronously (undefined when get() must wait). The token is
   * remembered as confirmed now, as get() would have.
   */
  peek(channelId: string): ManagedToken | undefined {
    const token = this.#source.peek?.(channelId);
    if (token === undefined) return undefined;
    const last = this.#last.get(channelId);
    if (last !== undefined && last.token === token) last.at = this.#now();
    else this.#last.set(channelId, { token, promise: null, at: this.#now() });
    return token;
  }

  async invalidate(channelId: string, keyId: string): Promise<void> {
    this.forget(channelId);
    await this.#source.invalidate(channelId, keyId);
  }

  /** Drops the remembered token of a channel (after a revocation or a manual issue). */
  forget(channelId: string): void {
    this.#last.delete(channelId);
  }
}
