import { setTimeout as sleep } from "node:timers/promises";
import { KagiyaError } from "../core/errors.ts";
import type { LockStore } from "../store/types.ts";
import type { LineStatelessApi, LineTokenApi } from "../tokens/upstream.ts";

/** Options of {@link IssueRateLimiter}. */
export interface IssueRateLimiterOptions {
  /** Issuances per second across every instance sharing the store (a positive integer; default 5). */
  perSecond?: number;
  now?: () => number;
}

/** The default of `--max-issue-rate`: issuances per second across the instances sharing a store. */
export const DEFAULT_MAX_ISSUE_RATE = 5;

const LOCK_PREFIX = "issue-rate:";
/** Permits are handed out in this first part of each second, so a slow issuance still lands in it. */
const PERMIT_SPAN_MS = 750;

/**
 * A rate limit on token issuances shared by every instance on one store, so a cold start of
 * thousands of credentials never bursts at LINE. The first 750 ms of each second are cut into
 * `perSecond` slots and each slot is one permit: a store lock named after the slot, taken once
 * (never released; its TTL only cleans it up). The issuance a permit allows lands in the same
 * second unless it takes over 250 ms to reach LINE, and any one-second window holds at most
 * `perSecond` slots' worth of permits. One store operation per attempt, none while the current
 * slot is known to be taken.
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
  readonly #perSecond: number;
  readonly #slotMs: number;
  readonly #now: () => number;
  /** The last slot this instance found taken (or took): no store call until the next one. */
  #spentSlot = "";

  constructor(store: LockStore, options: IssueRateLimiterOptions = {}) {
    const perSecond = options.perSecond ?? DEFAULT_MAX_ISSUE_RATE;
    if (!Number.isInteger(perSecond) || perSecond < 1 || perSecond > 1000) throw new RangeError("perSecond must be an integer from 1 to 1000");
    this.#store = store;
    this.#perSecond = perSecond;
    this.#slotMs = PERMIT_SPAN_MS / perSecond;
    this.#now = options.now ?? Date.now;
  }

  /** Length of one permit's slot, ms. */
  get slotMs(): number {
    return this.#slotMs;
  }

  /** Takes a permit for one issuance now; false when none is free at this moment (try at {@link nextSlotAt}). */
  async tryTake(): Promise<boolean> {
    const now = this.#now();
    const second = Math.floor(now / 1000);
    const into = now - second * 1000;
    const index = Math.floor(into / this.#slotMs);
    if (index >= this.#perSecond) return false;
    const slot = `${second}:${index}`;
    if (slot === this.#spentSlot) return false;
    this.#spentSlot = slot;
    return (await this.#store.tryLock(LOCK_PREFIX + slot, 2000)) !== null;
  }

  /** When the next permit may be free: the start of the next slot. */
  nextSlotAt(): number {
    const now = this.#now();
    const second = Math.floor(now / 1000);
    const index = Math.floor((now - second * 1000) / this.#slotMs) + 1;
    return index < this.#perSecond ? second * 1000 + Math.ceil(index * this.#slotMs) : (second + 1) * 1000;
  }
}

/**
 * No issuance permit came within the wait (thousands of credentials wanting a token at once):
 * nothing was sent to LINE, so the failure is not ambiguous; the caller backs off and tries again.
 */
export class IssueRateWaitError extends KagiyaError {
  /** Nothing reached LINE. */
  readonly ambiguous = false;
  readonly retryAfterMs: number;
  constructor(waitedMs: number) {
    super("ERR_ISSUE_RATE_WAIT", `no issuance permit within ${Math.round(waitedMs / 1000)} s (--max-issue-rate); trying again later`);
    this.retryAfterMs = 1000;
  }
}

/** Options of {@link rateLimitedIssuance}. */
export interface RateLimitedIssuanceOptions {
  /** Longest wait for a permit before giving up with {@link IssueRateWaitError}, ms (default 20000). */
  maxWaitMs?: number;
  now?: () => number;
  random?: () => number;
}

/**
 * LINE's token endpoints with every issuance (v2.1 and stateless) waiting for a permit of
 * `limiter` right before the request is sent, so the cap holds as LINE counts it: a permit taken
 * long before the call (behind store reads and an issue lock) could land in a later second,
 * beside that second's own permits. Revocations and key ID listings pass straight through.
 *
 * @example
 * ```ts
 * const line = rateLimitedIssuance(lineTokenApi({ baseUrl }), new IssueRateLimiter(store));
 * const manager = new TokenManager({ registry, line });
 * ```
 */
export function rateLimitedIssuance(api: LineTokenApi & LineStatelessApi, limiter: IssueRateLimiter, options: RateLimitedIssuanceOptions = {}): LineTokenApi & LineStatelessApi {
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const maxWaitMs = options.maxWaitMs ?? 20_000;
  const permit = async (): Promise<void> => {
    // The wait is measured in real time: a clock that jumps (a test clock, NTP) must not end it.
    const started = performance.now();
    while (!(await limiter.tryTake())) {
      const waited = performance.now() - started;
      if (waited >= maxWaitMs) throw new IssueRateWaitError(waited);
      // Into the next slot at a random point of its first part, so waiters do not arrive together.
      await sleep(Math.max(1, limiter.nextSlotAt() - now()) + Math.floor(random() * limiter.slotMs * 0.5));
    }
  };
  return {
    issue: async (channel, lifetimeSeconds) => {
      await permit();
      return api.issue(channel, lifetimeSeconds);
    },
    issueStateless: async (channel, by) => {
      await permit();
      return api.issueStateless(channel, by);
    },
    revoke: (channel, accessToken) => api.revoke(channel, accessToken),
    validKeyIds: (channel) => api.validKeyIds(channel),
  };
}
