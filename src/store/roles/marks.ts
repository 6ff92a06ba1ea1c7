/**
 * Once-marks with a TTL, for webhook de-duplication. Expiry is judged on the backend's clock
 * (see the note in ../types.ts).
 */
export interface OnceMarkStore {
  /** Records `key` for `ttlMs`; true the first time, false while it is remembered. */
  markOnce(key: string, ttlMs: number): Promise<boolean>;
  /**
   * {@link markOnce} for several keys in one step (one transaction, statement or script): one
   * answer per key, in order, each as markOnce would give it; a key repeated in `keys` is true at
   * most in its first place. Rejects as a whole when the step fails (no key is known to be marked).
   *
   * @example
   * ```ts
   * await store.markMany(["evt-1", "evt-2", "evt-1"], 60_000); // [true, true, false]
   * ```
   */
  markMany(keys: readonly string[], ttlMs: number): Promise<boolean[]>;
  /** Whether `key` was marked and its TTL has not run out (marks nothing). */
  isMarked(key: string): Promise<boolean>;
}
