/**
 * The memory cache of handed-out tokens: what get() and peek() answer without the store.
 *
 * @module
 */
import type { TokenRow } from "../store/types.ts";
import type { TokenPolicy } from "./policy.ts";
import type { ManagedToken } from "./types.ts";

/** A token held in memory; compared by identity to tell whether it is still the one held. */
export interface CachedToken {
  readonly token: ManagedToken;
  readonly promise: Promise<ManagedToken>;
}

interface CacheEntry extends CachedToken {
  readonly generation: number;
  /** The hot path serves the entry while now < freshUntil. */
  freshUntil: number;
  /**
   * From freshUntil until this, the entry is still served while a re-check runs in the background
   * (never past the refresh point or the serving limit; equal to freshUntil when there is none).
   */
  staleUntil: number;
  /** Last moment the token may be handed out at all (expiry minus the minimum remaining). */
  readonly serveUntil: number;
}

/**
 * Tokens in memory by credential ID. With `enabled` false it holds nothing. An entry is fresh for
 * `checkMs` after the store confirmed it, then stale (served while re-checked) for `staleMs` more.
 */
export class TokenCache {
  readonly #entries = new Map<string, CacheEntry>();
  readonly #enabled: boolean;
  readonly #checkMs: number;
  readonly #staleMs: number;

  constructor(enabled: boolean, checkMs: number, staleMs = 0) {
    this.#enabled = enabled;
    this.#checkMs = checkMs;
    this.#staleMs = staleMs;
  }

  /** The entry's promise while it is fresh (the hot path: no await of its own). */
  fresh(id: string, now: number): Promise<ManagedToken> | undefined {
    const e = this.#entries.get(id);
    return e !== undefined && now < e.freshUntil ? e.promise : undefined;
  }

  /** The entry when it is past its check but may still be served while it is re-checked. */
  stale(id: string, now: number): CachedToken | undefined {
    const e = this.#entries.get(id);
    return e !== undefined && now >= e.freshUntil && now < e.staleUntil ? e : undefined;
  }

  /** Whether `held` is still the credential's entry (not forgotten or replaced meanwhile). */
  holds(id: string, held: CachedToken): boolean {
    return this.#entries.get(id) === held;
  }

  /** The token itself while fresh. */
  peek(id: string, now: number): ManagedToken | undefined {
    const e = this.#entries.get(id);
    return e !== undefined && now < e.freshUntil ? e.token : undefined;
  }

  /** The token held for `id` when it is this row's (same key ID and generation), for reuse. */
  same(id: string, keyId: string, generation: number): ManagedToken | undefined {
    const e = this.#entries.get(id);
    return e !== undefined && e.token.keyId === keyId && e.generation === generation ? e.token : undefined;
  }

  /**
   * The store failed: a token still within its serving life is served for one more second
   * (then the store is asked again). Undefined when there is none.
   */
  keep(id: string, now: number): ManagedToken | undefined {
    const e = this.#entries.get(id);
    if (e === undefined || now >= e.serveUntil) return undefined;
    e.freshUntil = Math.min(e.serveUntil, now + 1_000);
    return e.token;
  }

  /**
   * Remembers `token` (from `row`) until `until`, the serving limit, or the next check, whichever
   * is first; then, before the refresh point and the serving limit, for up to `staleMs` more while
   * it is re-checked in the background.
   */
  put(id: string, generation: number, token: ManagedToken, row: TokenRow, policy: TokenPolicy, now: number, until = row.refreshAt): void {
    if (!this.#enabled) return;
    const serveUntil = row.expiresAt - policy.minRemainingSeconds * 1000;
    const freshUntil = Math.min(until, serveUntil, now + this.#checkMs);
    const staleUntil = Math.max(freshUntil, Math.min(row.refreshAt, serveUntil, now + this.#checkMs + this.#staleMs));
    const e = this.#entries.get(id);
    if (e !== undefined && e.token === token) {
      e.freshUntil = freshUntil;
      e.staleUntil = staleUntil;
      return;
    }
    this.#entries.set(id, { token, promise: Promise.resolve(token), generation, freshUntil, staleUntil, serveUntil });
  }

  /** Forgets the credential's token, whichever it is. */
  drop(id: string): void {
    this.#entries.delete(id);
  }

  /** Forgets the credential's token when it is one of `keyIds`. */
  forget(id: string, keyIds: readonly string[]): void {
    const e = this.#entries.get(id);
    if (e !== undefined && keyIds.includes(e.token.keyId)) this.#entries.delete(id);
  }

  clear(): void {
    this.#entries.clear();
  }
}
