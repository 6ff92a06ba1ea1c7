/**
 * Duplicate checks in a shared store, gathered: the marks of deliveries accepted close together
 * go to the store's `markMany` in one call (one SQLite transaction, one PostgreSQL statement, one
 * Redis script), so the intake waits on one promise per batch instead of one per event. A store
 * without markMany gets one `markOnce` per key in the same tick (its own batching may join them).
 *
 * While a batch is in flight, the next one starts `spacingMs` after it at the earliest (not
 * waiting for its answer): under load a batch holds many marks (a SQLite commit or a PostgreSQL
 * round trip costs several marks' worth of CPU); when quiet, a mark is sent at once.
 */
import type { DedupStore } from "./dedup.ts";

/** A store that can also mark many keys in one step (the Store's once-mark role does). */
interface ManyMarkStore extends DedupStore {
  markMany?(keys: readonly string[], ttlMs: number): Promise<boolean[]>;
}

/** Per key: true the first time it is seen, false while remembered, or the store's error. */
export type MarkResult = boolean | { error: unknown };

interface Group {
  keys: string[];
  done: (results: MarkResult[]) => void;
}

/** Options of {@link MarkBatcher}. */
export interface MarkBatcherOptions {
  /** Least time between the starts of two batches while the first is in flight, ms (default 5). */
  spacingMs?: number;
  /** Most marks in one batch (default 1000); past it a batch starts without waiting for the spacing. */
  maxBatch?: number;
  /** Clock for the spacing, ms (default performance.now). */
  now?: () => number;
}

/**
 * Gathers groups of keys and marks them in a shared store together.
 *
 * @example
 * ```ts
 * const marks = new MarkBatcher(store, 86_400_000);
 * marks.mark(["webhook:123:01H…"], ([fresh]) => fresh === true && handle());
 * ```
 */
export class MarkBatcher {
  readonly #store: DedupStore;
  readonly #ttlMs: number;
  readonly #spacingMs: number;
  readonly #maxBatch: number;
  readonly #now: () => number;
  #groups: Group[] = [];
  #keys = 0;
  #inFlight = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #lastStart = -Infinity;
  /** A flush is queued as a microtask. */
  #queued = false;
  readonly #flushFn = (): void => {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#queued = false;
    this.#flush();
  };

  constructor(store: DedupStore, ttlMs: number, options: MarkBatcherOptions = {}) {
    this.#store = store;
    this.#ttlMs = ttlMs;
    this.#spacingMs = options.spacingMs ?? 5;
    this.#maxBatch = options.maxBatch ?? 1000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Marks `keys` (in the next batch); `done` gets one result per key, in order. Never throws. */
  mark(keys: string[], done: (results: MarkResult[]) => void): void {
    this.#groups.push({ keys, done });
    this.#keys += keys.length;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#queued) return;
    const wait = this.#inFlight === 0 || this.#keys >= this.#maxBatch ? 0 : this.#lastStart + this.#spacingMs - this.#now();
    if (wait <= 0) {
      // After the current pump: the marks of every delivery it takes join the batch.
      if (this.#timer !== null) clearTimeout(this.#timer);
      this.#timer = null;
      this.#queued = true;
      queueMicrotask(this.#flushFn);
    } else if (this.#timer === null) this.#timer = setTimeout(this.#flushFn, wait);
  }

  #flush(): void {
    if (this.#groups.length === 0) return;
    const groups = this.#groups;
    this.#groups = [];
    this.#keys = 0;
    this.#inFlight++;
    this.#lastStart = this.#now();
    const keys: string[] = [];
    for (const g of groups) for (const key of g.keys) keys.push(key);
    void this.#markAll(keys).then((results) => {
      this.#inFlight--;
      let at = 0;
      for (const g of groups) {
        g.done(results.slice(at, at + g.keys.length));
        at += g.keys.length;
      }
    });
  }

  /** One result per key, by the store's markMany when it has one, else key by key. Never rejects. */
  async #markAll(keys: string[]): Promise<MarkResult[]> {
    const store = this.#store as ManyMarkStore;
    if (typeof store.markMany === "function") {
      // A failed batch fails each of its marks; not retried key by key, as the batch may have
      // been written before it failed (a lost reply), and a retry would then drop every event.
      try {
        const fresh = await store.markMany(keys, this.#ttlMs);
        if (fresh.length === keys.length) return fresh;
        const error = new Error(`markMany answered ${fresh.length} results for ${keys.length} keys`);
        return keys.map(() => ({ error }));
      } catch (error) {
        return keys.map(() => ({ error }));
      }
    }
    const settled = await Promise.allSettled(keys.map(async (key) => store.markOnce(key, this.#ttlMs)));
    return settled.map((s) => (s.status === "fulfilled" ? s.value : { error: s.reason }));
  }
}
