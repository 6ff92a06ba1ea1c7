/**
 * Once-marks with a TTL, for webhook de-duplication. Expiry is judged on the backend's clock
 * (see the note in ../types.ts).
 */
export interface OnceMarkStore {
  /** Records `key` for `ttlMs`; true the first time, false while it is remembered. */
  markOnce(key: string, ttlMs: number): Promise<boolean>;
  /** Whether `key` was marked and its TTL has not run out (marks nothing). */
  isMarked(key: string): Promise<boolean>;
}
