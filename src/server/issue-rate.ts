import { setTimeout as sleep } from "node:timers/promises";
import { KagiyaError } from "../core/errors.ts";
import type { Lock, LockStore } from "../store/types.ts";
import type { LineStatelessApi, LineTokenApi } from "../tokens/upstream.ts";
import { LINE_UPSTREAM, linePermitted } from "../tokens/permits.ts";

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
 * A request sent this close to the end of a second may reach the upstream in the next one, so its
 * permit is counted in both seconds.
 */
const REACH_MS = 250;
/** How long a permit's lock outlives its take: past the end of the next second, with room for clock skew. */
const PERMIT_TTL_MS = 3000;

/**
 * A rate limit on token issuances shared by every instance on one store, so a cold start of
 * thousands of credentials never bursts at LINE. Each second has `perSecond` permits, store locks
 * named after the second and the permit's number, taken once (never released after a use; their
 * TTL only cleans them up): a permit is there whenever the second's budget is not spent, wherever
 * the clock is in the second. A permit taken in a second's last 250 ms also spends one of the next
 * second's, since its request may reach LINE there: any one-second window on the upstream's clock
 * holds at most `perSecond` issuances whose request took under 250 ms to arrive. Each instance
 * remembers how far into a second's permits it has looked, so it makes at most `perSecond` +
 * (its takes) store calls per second, none once it has seen the second spent.
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
  readonly #prefix: string;
  readonly #now: () => number;
  /** Per second: the number of the next permit this instance has not yet found taken (perSecond: spent). */
  readonly #next = new Map<number, number>();

  /** `name` keeps apart the permits of different upstreams on one store (default: LINE's). */
  constructor(store: LockStore, options: IssueRateLimiterOptions & { name?: string } = {}) {
    const perSecond = options.perSecond ?? DEFAULT_MAX_ISSUE_RATE;
    if (!Number.isInteger(perSecond) || perSecond < 1 || perSecond > 1000) throw new RangeError("perSecond must be an integer from 1 to 1000");
    this.#store = store;
    this.#perSecond = perSecond;
    this.#prefix = options.name === undefined ? LOCK_PREFIX : `${LOCK_PREFIX}${options.name}:`;
    this.#now = options.now ?? Date.now;
  }

  /** The average spacing of permits, ms (1000 / perSecond). */
  get slotMs(): number {
    return 1000 / this.#perSecond;
  }

  /** Takes a permit for one issuance now; false when none is free at this moment (try at {@link nextSlotAt}). */
  async tryTake(): Promise<boolean> {
    const now = this.#now();
    const second = Math.floor(now / 1000);
    // Seconds other than this one and the next are of no more use (or the clock went back).
    for (const s of this.#next.keys()) if (s !== second && s !== second + 1) this.#next.delete(s);
    const seconds = now - second * 1000 >= 1000 - REACH_MS ? [second, second + 1] : [second];
    if (seconds.some((s) => this.#spent(s))) return false;
    const held: Lock[] = [];
    for (const s of seconds) {
      const lock = await this.#takeIn(s);
      if (lock === null) {
        // The next second is spent: the permit taken in this one goes back unused.
        for (const l of held) await l.release().catch(() => {});
        return false;
      }
      held.push(lock);
    }
    return true;
  }

  /** When a permit may be free next: now, unless this instance has seen the current second (or, late in it, the next) spent. */
  nextSlotAt(): number {
    const now = this.#now();
    const second = Math.floor(now / 1000);
    if (this.#spent(second + 1)) return (second + 2) * 1000;
    if (this.#spent(second)) return (second + 1) * 1000;
    return now;
  }

  #spent(second: number): boolean {
    return (this.#next.get(second) ?? 0) >= this.#perSecond;
  }

  /** One of `second`'s permits, trying them in order from the first this instance has not seen taken. */
  async #takeIn(second: number): Promise<Lock | null> {
    for (;;) {
      const n = this.#next.get(second) ?? 0;
      if (n >= this.#perSecond) return null;
      // Claimed before the await: concurrent takes in this process try different permits.
      this.#next.set(second, n + 1);
      const lock = await this.#store.tryLock(`${this.#prefix}${second}:${n}`, PERMIT_TTL_MS);
      if (lock !== null) return lock;
    }
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

/** How long to wait for a permit, and the clock and randomness of the wait. */
export interface RateLimitedIssuanceOptions {
  /** Longest wait for a permit before giving up with {@link IssueRateWaitError}, ms (default 20000). */
  maxWaitMs?: number;
  now?: () => number;
  random?: () => number;
}

/**
 * Waits for one of `limiter`'s permits: tries, and while none is free sleeps until the next may
 * be (plus a little jitter, so waiters do not arrive together). Throws {@link IssueRateWaitError}
 * after `maxWaitMs` of real time.
 */
export async function waitForPermit(limiter: IssueRateLimiter, options: RateLimitedIssuanceOptions = {}): Promise<void> {
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const maxWaitMs = options.maxWaitMs ?? 20_000;
  // The wait is measured in real time: a clock that jumps (a test clock, NTP) must not end it.
  const started = performance.now();
  while (!(await limiter.tryTake())) {
    const waited = performance.now() - started;
    if (waited >= maxWaitMs) throw new IssueRateWaitError(waited);
    await sleep(Math.max(1, limiter.nextSlotAt() - now()) + Math.floor(random() * limiter.slotMs * 0.5));
  }
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
  return linePermitted(api, () => waitForPermit(limiter, options));
}

/**
 * `--max-issue-rate` per upstream: each upstream (LINE's channel token API, LINE WORKS' auth
 * server, each OAuth provider's token endpoint) has its own `perSecond` permits across the
 * instances sharing the store, since each counts (and answers 429 to) only its own requests: a
 * cold start of LINE channels does not hold back LINE WORKS apps' refreshes. LINE's permits keep
 * the lock names they always had.
 *
 * @example
 * ```ts
 * const permits = new IssuePermits(store, { perSecond: 5 });
 * await permits.take("line-works"); // right before asking LINE WORKS for a token
 * ```
 */
export class IssuePermits {
  readonly #store: LockStore;
  readonly #options: IssueRateLimiterOptions & RateLimitedIssuanceOptions;
  readonly #limiters = new Map<string, IssueRateLimiter>();

  constructor(store: LockStore, options: IssueRateLimiterOptions & RateLimitedIssuanceOptions = {}) {
    this.#store = store;
    this.#options = options;
    // Fails here, not at the first issuance, on a bad perSecond.
    this.limiter(LINE_UPSTREAM);
  }

  /** The limiter of one upstream (made on first use). */
  limiter(upstream: string): IssueRateLimiter {
    let l = this.#limiters.get(upstream);
    if (l === undefined) {
      const { perSecond, now } = this.#options;
      l = new IssueRateLimiter(this.#store, { ...(perSecond !== undefined ? { perSecond } : {}), ...(now ? { now } : {}), ...(upstream === LINE_UPSTREAM ? {} : { name: upstream }) });
      this.#limiters.set(upstream, l);
    }
    return l;
  }

  /** Waits for a permit of `upstream` (see {@link waitForPermit}); call it right before the request. */
  readonly take = (upstream: string): Promise<void> => waitForPermit(this.limiter(upstream), this.#options);
}
