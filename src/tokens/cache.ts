/**
 * The memory cache of handed-out tokens: what get() and peek() answer without the store.
 *
 * @module
 */
import type { TokenRow } from "../store/types.ts";
import type { TokenPolicy } from "./policy.ts";
import type { ManagedToken } from "./types.ts";

interface CacheEntry {
  readonly token: ManagedToken;
  readonly promise: Promise<ManagedToken>;
  readonly generation: number;
  /** The hot path serves the entry while now < freshUntil. */
  freshUntil: number;
  /** Last moment the token may be handed out at all (expiry minus the minimum remaining). */
  readonly serveUntil: number;
}

/** Tokens in memory by credential ID. With `enabled` false it holds nothing. */
export class TokenCache {
  readonly #entries = new Map<string, CacheEntry>();
  readonly #enabled: boolean;
  readonly #checkMs: number;

  constructor(enabled: boolean, checkMs: number) {
    this.#enabled = enabled;
    this.#checkMs = checkMs;
  }

  /** The entry's promise while it is fresh (the hot path: no await of its own). */
  fresh(id: string, now: number): Promise<ManagedToken> | undefined {
    const e = this.#entries.get(id);
    return e !== undefined && now < e.freshUntil ? e.promise : undefined;
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

  /** Remembers `token` (from `row`) until `until`, the serving limit, or the next check, whichever is first. */
  put(id: string, generation: number, token: ManagedToken, row: TokenRow, policy: TokenPolicy, now: number, until = row.refreshAt): void {
    if (!this.#enabled) return;
    const serveUntil = row.expiresAt - policy.minRemainingSeconds * 1000;
    const freshUntil = Math.min(until, serveUntil, now + this.#checkMs);
    const e = this.#entries.get(id);
    if (e !== undefined && e.token === token) {
      e.freshUntil = freshUntil;
      return;
    }
    this.#entries.set(id, { token, promise: Promise.resolve(token), generation, freshUntil, serveUntil });
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
