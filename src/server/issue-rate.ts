import type { LockStore } from "../store/types.ts";

/** Options of {@link IssueRateLimiter}. */
export interface IssueRateLimiterOptions {
  /** Issuances per second across every instance sharing the store (a positive integer; default 5). */
  perSecond?: number;
  now?: () => number;
}

/** The default of `--max-issue-rate`: issuances per second across the instances sharing a store. */
export const DEFAULT_MAX_ISSUE_RATE = 5;

const LOCK_PREFIX = "issue-rate:";

/**
 * A rate limit on token issuances shared by every instance on one store, so a cold start of
 * thousands of credentials never bursts at LINE. Each second is cut into `perSecond` slots and
 * each slot is one permit: a store lock named after the slot, taken once (it is never released,
 * its TTL only cleans it up). A permit is only handed out in the first half of its slot, so the
 * issuance it allows lands in the same second. One store operation per attempt, none while the
 * current slot is known to be taken.
 *
 * @example
 * ```ts
 * const limiter = new IssueRateLimiter(store, { perSecond: 5 });
 * if (await limiter.tryTake()) await manager.get(channelId);
 * else retryAt = limiter.nextSlotAt();
 * ```
 */
export class IssueRateLimiter {
  readonly #store: LockStore;
  readonly #slotMs: number;
  readonly #now: () => number;
  /** The last slot this instance found taken (or took): no store call until the next one. */
  #spentSlot = -1;

  constructor(store: LockStore, options: IssueRateLimiterOptions = {}) {
    const perSecond = options.perSecond ?? DEFAULT_MAX_ISSUE_RATE;
    if (!Number.isInteger(perSecond) || perSecond < 1 || perSecond > 1000) throw new RangeError("perSecond must be an integer from 1 to 1000");
    this.#store = store;
    this.#slotMs = 1000 / perSecond;
    this.#now = options.now ?? Date.now;
  }

  /** Takes a permit for one issuance now; false when this slot's permit is gone (try at {@link nextSlotAt}). */
  async tryTake(): Promise<boolean> {
    const now = this.#now();
    const slot = Math.floor(now / this.#slotMs);
    if (slot === this.#spentSlot || now - slot * this.#slotMs > this.#slotMs / 2) return false;
    this.#spentSlot = slot;
    const lock = await this.#store.tryLock(LOCK_PREFIX + slot, Math.max(2000, Math.ceil(this.#slotMs * 2)));
    return lock !== null;
  }

  /** When the next permit may be free: the start of the next slot. */
  nextSlotAt(): number {
    return (Math.floor(this.#now() / this.#slotMs) + 1) * this.#slotMs;
  }
}
