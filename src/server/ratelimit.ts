import { HttpError } from "./errors.ts";

/** Options of {@link RateLimiter}: a token bucket per caller. */
export interface RateLimitOptions {
  /** Sustained requests per second (default 50). */
  perSecond?: number;
  /** Bucket size: requests allowed in a burst (default 2 × perSecond). */
  burst?: number;
  /** Most callers tracked before idle buckets are dropped (default 10000). */
  maxKeys?: number;
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * A per-caller token bucket: `take(id)` answers 0 when the request may go ahead, otherwise the
 * whole seconds to wait, for a 429's Retry-After.
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter({ perSecond: 10 });
 * const wait = limiter.take("ak_123"); // 0 = allowed
 * ```
 */
export class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: RateLimitOptions = {}) {
    this.#rate = options.perSecond ?? 50;
    this.#burst = options.burst ?? this.#rate * 2;
    this.#max = options.maxKeys ?? 10_000;
    this.#now = options.now ?? Date.now;
    if (!(this.#rate > 0) || !(this.#burst >= 1)) throw new RangeError("rate limit needs perSecond > 0 and burst >= 1");
  }

  /** 0 when allowed (one token taken); otherwise seconds until a token is available (>= 1). */
  take(id: string): number {
    const now = this.#now();
    let b = this.#buckets.get(id);
    if (b === undefined) {
      if (this.#buckets.size >= this.#max) this.#prune(now);
      b = { tokens: this.#burst, at: now };
      this.#buckets.set(id, b);
    } else {
      b.tokens = Math.min(this.#burst, b.tokens + ((now - b.at) / 1000) * this.#rate);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.#rate));
  }

  /** Like {@link take} without taking: 0 when a request would be allowed now. */
  peek(id: string): number {
    const b = this.#buckets.get(id);
    if (b === undefined) return 0;
    const tokens = Math.min(this.#burst, b.tokens + ((this.#now() - b.at) / 1000) * this.#rate);
    return tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / this.#rate));
  }

  #prune(now: number): void {
    for (const [id, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.#rate >= this.#burst) this.#buckets.delete(id);
    }
    if (this.#buckets.size >= this.#max) this.#buckets.clear();
  }
}

/**
 * Takes a request of `id` from `limiter`, or throws the server's 429 (`ERR_RATE_LIMITED`, with
 * Retry-After); `what` says what was too frequent.
 *
 * @example
 * ```ts
 * takeOrRefuse(ctx.loginLimiter, req.socket.remoteAddress ?? "?", "too many login attempts");
 * ```
 */
export function takeOrRefuse(limiter: RateLimiter, id: string, what: string): void {
  const wait = limiter.take(id);
  if (wait > 0) throw new HttpError(429, "ERR_RATE_LIMITED", `${what}; retry after ${wait} s`, { headers: { "retry-after": String(wait) } });
}
