/** A held lock. Releasing a lock someone else now holds is a no-op. */
export interface Lock {
  readonly name: string;
  /** Opaque owner token; also a fencing value for diagnostics. */
  readonly owner: string;
  release(): Promise<void>;
  /**
   * Keeps the lock for `ttlMs` more from now, while it is still this holder's: false when it
   * expired and someone else took it (or nobody holds it any more).
   */
  extend(ttlMs: number): Promise<boolean>;
}

/**
 * Advisory locks: they only prevent duplicate work (correctness rests on the token store's
 * generation fencing). Expiry is judged on the backend's clock (see the note in ../types.ts).
 */
export interface LockStore {
  /** Tries once to take `name` for `ttlMs`; null when someone else holds it. */
  tryLock(name: string, ttlMs: number): Promise<Lock | null>;
}
