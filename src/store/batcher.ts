/**
 * One micro-batcher for the backends' hot writes and reads (SQLite's webhook marks, PostgreSQL's
 * marks and current-token reads): calls made close together go to the backend as one batch.
 *
 * @module
 */

/** Options of {@link MicroBatcher}. */
export interface MicroBatcherOptions<I, O> {
  /**
   * Runs one batch: returns one result per item, in order (a value, or a promise of one so that
   * items may settle separately). Throwing or rejecting fails every item of the batch.
   */
  run: (items: readonly I[]) => ReadonlyArray<O | Promise<O>> | Promise<ReadonlyArray<O | Promise<O>>>;
  /** How long items gather before a batch starts, ms; 0 (default) = the end of the current tick. */
  windowMs?: number;
  /** Most items in one batch (default unbounded). */
  maxBatch?: number;
  /** Batches running at once (default unbounded); later items wait for the next free slot. */
  maxInFlight?: number;
}

interface Waiter<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Gathers items and runs them in batches. A batch is only started after each of its callers
 * called, so a batched read never returns data older than its call.
 *
 * @example
 * ```ts
 * const reads = new MicroBatcher<string, number>({ run: async (ids) => ids.map((id) => id.length), maxInFlight: 2 });
 * await Promise.all([reads.add("a"), reads.add("bb")]); // one batch: [1, 2]
 * ```
 */
export class MicroBatcher<I, O> {
  readonly #run: MicroBatcherOptions<I, O>["run"];
  readonly #windowMs: number;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  #queue: Array<Waiter<I, O>> = [];
  #scheduled = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inFlight = 0;

  constructor(options: MicroBatcherOptions<I, O>) {
    this.#run = options.run;
    this.#windowMs = options.windowMs ?? 0;
    this.#maxBatch = Math.max(1, options.maxBatch ?? Infinity);
    this.#maxInFlight = Math.max(1, options.maxInFlight ?? Infinity);
  }

  /** Items waiting for a batch. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Queues `item` for the next batch; settles with its result. */
  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  /** Starts batches for every waiting item now (within maxInFlight), without waiting for the window. */
  flush(): void {
    this.#scheduled = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#queue.length > 0 && this.#inFlight < this.#maxInFlight) this.#start(this.#queue.splice(0, this.#maxBatch));
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#maxInFlight) return;
    this.#scheduled = true;
    if (this.#windowMs > 0) this.#timer = setTimeout(() => this.flush(), this.#windowMs);
    else queueMicrotask(() => this.#scheduled && this.flush());
  }

  #start(batch: Array<Waiter<I, O>>): void {
    this.#inFlight++;
    const done = () => {
      this.#inFlight--;
      if (this.#queue.length > 0) this.#schedule();
    };
    const settle = (results: ReadonlyArray<O | Promise<O>>) => {
      batch.forEach((w, i) => void Promise.resolve(results[i] as O | Promise<O>).then(w.resolve, w.reject));
    };
    const fail = (error: unknown) => {
      for (const w of batch) w.reject(error);
    };
    let out: ReturnType<MicroBatcherOptions<I, O>["run"]>;
    try {
      out = this.#run(batch.map((w) => w.item));
    } catch (error) {
      fail(error);
      done();
      return;
    }
    if (Array.isArray(out)) {
      settle(out);
      done();
    } else {
      void (out as Promise<ReadonlyArray<O | Promise<O>>>).then(settle, fail).finally(done);
    }
  }
}
