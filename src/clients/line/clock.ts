/**
 * LINE's clock as seen from here. Assertions carry an absolute `exp` that LINE checks against its
 * own clock, so a machine whose clock is off by more than the assertion's lifetime (5 minutes by
 * default) gets every assertion refused. Every LINE response carries a `Date` header; the offset
 * between it and the local clock is tracked and used to build assertions in LINE's time.
 */

/**
 * Tracks the offset between the local clock and LINE's `Date` headers.
 *
 * @example
 * ```ts
 * const clock = new ServerClock(Date.now);
 * clock.observe("Sun, 22 Nov 2026 04:00:00 GMT", sentAt, receivedAt);
 * const lineNow = clock.serverNow(); // ms, corrected
 * ```
 */
export class ServerClock {
  /** LINE's clock minus the local clock, ms (0 until a Date header has been seen). */
  offsetMs = 0;
  /** Number of Date headers observed. */
  samples = 0;
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  /** The local clock, ms since the epoch. */
  now(): number {
    return this.#now();
  }

  /** LINE's clock, ms since the epoch: the local clock corrected by the last observed offset. */
  serverNow(): number {
    return this.#now() + this.offsetMs;
  }

  /**
   * Records a `Date` header seen on a response to a request sent at `sentAt` and answered at
   * `receivedAt` (local ms). The header has one-second resolution and is truncated, so LINE's
   * clock at the midpoint of the exchange is taken as Date + 500 ms. Returns false (and changes
   * nothing) when the header is missing or unparseable.
   */
  observe(dateHeader: string | null | undefined, sentAt: number, receivedAt: number): boolean {
    if (!dateHeader) return false;
    const dateMs = Date.parse(dateHeader);
    if (!Number.isFinite(dateMs)) return false;
    this.offsetMs = Math.round(dateMs + 500 - (sentAt + receivedAt) / 2);
    this.samples++;
    return true;
  }
}

/**
 * Parses a Retry-After header in either form (RFC 9110 §10.2.3): delta-seconds, or an HTTP-date
 * taken relative to the same response's Date header when present (so a skewed local clock does not
 * matter), else to `serverNowMs`. Returns ms to wait (never negative), or undefined when absent or
 * unparseable.
 *
 * @example
 * ```ts
 * parseRetryAfter("120", null, Date.now()); // 120000
 * parseRetryAfter("Sun, 22 Nov 2026 04:00:30 GMT", "Sun, 22 Nov 2026 04:00:00 GMT", 0); // 30000
 * ```
 */
export function parseRetryAfter(value: string | null | undefined, dateHeader: string | null | undefined, serverNowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (!Number.isFinite(at)) return undefined;
  const date = dateHeader ? Date.parse(dateHeader) : Number.NaN;
  const reference = Number.isFinite(date) ? date : serverNowMs;
  return Math.max(0, at - reference);
}
