/**
 * Keeps a flood of one kind of event (forged webhooks) from flooding the audit log, without
 * losing count: at most one row per key per window and at most `max` rows per window in all;
 * the next row written says how many were left out before it.
 *
 * @example
 * ```ts
 * const throttle = new AuditThrottle(10_000, 20);
 * const detail = throttle.admit("1234567890|ERR_WEBHOOK_SIGNATURE", Date.now());
 * if (detail !== null) writeAuditRow(`ERR_WEBHOOK_SIGNATURE (401)${detail}`);
 * ```
 */
export class AuditThrottle {
  readonly #windowMs: number;
  readonly #max: number;
  readonly #lastByKey = new Map<string, number>();
  #windowStart = -Infinity;
  #rowsInWindow = 0;
  #skipped = 0;

  constructor(windowMs: number, max: number) {
    this.#windowMs = windowMs;
    this.#max = max;
  }

  /**
   * Null when this event is left out (and counted); otherwise the text to append to the row's
   * detail: "" or "; N more not recorded since the previous record".
   */
  admit(key: string, now: number): string | null {
    if (now - this.#windowStart >= this.#windowMs) {
      this.#windowStart = now;
      this.#rowsInWindow = 0;
    }
    const last = this.#lastByKey.get(key);
    if ((last !== undefined && now - last < this.#windowMs) || this.#rowsInWindow >= this.#max) {
      this.#skipped++;
      return null;
    }
    if (this.#lastByKey.size >= 10_000) this.#lastByKey.clear();
    this.#lastByKey.set(key, now);
    this.#rowsInWindow++;
    const skipped = this.#skipped;
    this.#skipped = 0;
    return skipped > 0 ? `; ${skipped} more not recorded since the previous record` : "";
  }
}
