/**
 * De-duplication of webhook events. The contract is the Store's `markOnce`, so a shared store
 * (Redis, PostgreSQL) de-duplicates across instances; {@link MemoryDedup} is the single-process
 * default.
 */

/** Anything with the Store's `markOnce`: true the first time a key is seen within `ttlMs`. */
export interface DedupStore {
  markOnce(key: string, ttlMs: number): Promise<boolean>;
}

/** Options of {@link MemoryDedup}. */
export interface MemoryDedupOptions {
  /** At most this many keys are remembered; the oldest go first (default 100,000). */
  maxEntries?: number;
  /** Clock in epoch ms (default Date.now). */
  now?: () => number;
}

/**
 * In-memory TTL set for one process. Keys expire after their TTL; when full, the oldest key is
 * forgotten, which can only let a very old duplicate through, never drop a new event.
 *
 * @example
 * ```ts
 * const dedup = new MemoryDedup();
 * await dedup.markOnce("wh:1234:01H...", 60_000); // true
 * await dedup.markOnce("wh:1234:01H...", 60_000); // false
 * ```
 */
export class MemoryDedup implements DedupStore {
  readonly #seen = new Map<string, number>();
  // Insertion order kept apart from the Map: V8 Maps keep deleted slots until they rehash, so
  // repeatedly deleting the first entry and iterating from the front again costs O(n) each time.
  #keys: string[] = [];
  #untils: number[] = [];
  #head = 0;
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: MemoryDedupOptions = {}) {
    this.#max = options.maxEntries ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  /** Same contract as `Store.markOnce`; synchronous underneath. */
  markOnce(key: string, ttlMs: number): Promise<boolean> {
    return Promise.resolve(this.markOnceSync(key, ttlMs));
  }

  /** {@link markOnce} without the promise, for hot paths that know they hold a MemoryDedup. */
  markOnceSync(key: string, ttlMs: number): boolean {
    const now = this.#now();
    const until = this.#seen.get(key);
    if (until !== undefined && until > now) return false;
    this.#sweep(now);
    this.#seen.set(key, now + ttlMs);
    this.#keys.push(key);
    this.#untils.push(now + ttlMs);
    return true;
  }

  /** Number of keys remembered (expired ones may linger until the next sweep). */
  get size(): number {
    return this.#seen.size;
  }

  #sweep(now: number): void {
    const keys = this.#keys;
    const untils = this.#untils;
    while (this.#head < keys.length) {
      const at = this.#head;
      const full = this.#seen.size >= this.#max;
      if (untils[at]! > now && !full) break;
      this.#head++;
      // Only the key's latest insertion removes it; older entries of a re-added key are skipped.
      if (this.#seen.get(keys[at]!) === untils[at]) this.#seen.delete(keys[at]!);
    }
    if (this.#head > 1024 && this.#head * 2 > keys.length) {
      this.#keys = keys.slice(this.#head);
      this.#untils = untils.slice(this.#head);
      this.#head = 0;
    }
  }
}
