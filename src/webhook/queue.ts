/**
 * The queue that runs event handlers after the response, in two stages. Duplicate checks start
 * for every accepted delivery at once, a shared store's gathered into batches (./mark-batch.ts;
 * they must not wait for a handler slot, or a store round trip per delivery would cap the
 * intake's rate). Checked deliveries then run their handlers, at most `concurrency` at once,
 * each one's events in order.
 * Work starts on a macrotask after the current I/O callbacks, so the response is on its way first.
 */
import { MemoryDedup } from "./dedup.ts";
import { createDeliver, type Deliver } from "./dispatch.ts";
import { describeError } from "./log.ts";
import { MarkBatcher } from "./mark-batch.ts";
import type { DeliveryInfo, ResolvedWebhookOptions } from "./options.ts";
import { envelopeProblem } from "./parse.ts";
import { LINE_PLATFORM, type WebhookPlatform } from "./platform.ts";
import type { Logger, WebhookEvent } from "./types.ts";

/** One accepted delivery. */
export interface Delivery {
  /** The LINE channel ID, or the LINE WORKS bot ID. */
  channelId: string;
  destination: string;
  events: unknown[];
  /** Where it came from: how its events are keyed for de-duplication (default LINE). */
  platform?: WebhookPlatform;
  /** SHA-256 of the bot ID and raw body (hex), for platforms that key by it. */
  digest?: string | null;
}

interface Job extends Delivery {
  info?: DeliveryInfo;
  /** Per event, after the duplicate check: whether to deliver it. */
  fresh?: boolean[];
}

/** At most one busy warning per this many ms: an overload must not also flood the logs. */
const BUSY_WARNING_INTERVAL_MS = 10_000;

// setImmediate where the runtime has it (cheaper than a timer and no 1 ms floor, so parsed bodies
// die young), else setTimeout; a macrotask either way, never a microtask.
const later: (fn: () => void) => void =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === "function"
    ? (fn) => void (globalThis as unknown as { setImmediate(fn: () => void): unknown }).setImmediate(fn)
    : (fn) => void setTimeout(fn, 0);

/**
 * Accepted deliveries on their way to the handlers.
 *
 * @example
 * ```ts
 * const queue = new DeliveryQueue(resolveWebhookOptions({ channelSecret, onEvent }));
 * if (!queue.offer({ channelId, destination, events })) return reject(channelId, "ERR_WEBHOOK_BUSY");
 * await queue.drain();
 * ```
 */
export class DeliveryQueue {
  readonly #memoryDedup: MemoryDedup | null;
  /** A shared store's marks, gathered into batches (null with the in-memory dedup). */
  readonly #marks: MarkBatcher | null;
  readonly #dedupTtlMs: number;
  readonly #concurrency: number;
  readonly #maxPending: number;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #deliver: Deliver;
  /** Accepted, not yet checked; #pump takes them all at once, so no read index is needed. */
  readonly #accepted: Job[] = [];
  /** Checked, waiting for a handler slot, read from #readyHead. */
  readonly #ready: Job[] = [];
  #readyHead = 0;
  #checking = 0;
  #running = 0;
  #scheduled = false;
  #idleWaiters: Array<() => void> = [];
  #lastBusyWarning = -Infinity;
  readonly #pumpFn = (): void => this.#pump();
  readonly #doneFn = (): void => this.#done();

  constructor(options: Pick<ResolvedWebhookOptions, "dedup" | "dedupTtlMs" | "concurrency" | "maxPending" | "logger" | "now" | "bot" | "onEvent">) {
    this.#memoryDedup = options.dedup instanceof MemoryDedup ? options.dedup : null;
    this.#dedupTtlMs = options.dedupTtlMs;
    this.#marks = this.#memoryDedup === null ? new MarkBatcher(options.dedup, options.dedupTtlMs) : null;
    this.#concurrency = options.concurrency;
    this.#maxPending = options.maxPending;
    this.#logger = options.logger;
    this.#now = options.now;
    this.#deliver = createDeliver(options);
  }

  /** Deliveries accepted and not yet handled: waiting, being checked for duplicates, or running. */
  get pending(): number {
    return this.#accepted.length + this.#checking + (this.#ready.length - this.#readyHead) + this.#running;
  }

  /**
   * Queues a delivery; false (and nothing queued) when `maxPending` deliveries are already waiting,
   * warned at most every 10 s.
   */
  offer(delivery: Delivery): boolean {
    const pending = this.pending;
    if (pending >= this.#maxPending) {
      const now = this.#now();
      if (now - this.#lastBusyWarning >= BUSY_WARNING_INTERVAL_MS) {
        this.#lastBusyWarning = now;
        this.#logger.warn({ channelId: delivery.channelId, pending, maxPending: this.#maxPending }, "webhook deliveries refused with 503: too many waiting to be handled");
      }
      return false;
    }
    this.#accepted.push(delivery);
    this.#schedule();
    return true;
  }

  /** Resolves once every queued event has been handled (for shutdown and tests). */
  drain(): Promise<void> {
    if (this.pending === 0 && !this.#scheduled) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    later(this.#pumpFn);
  }

  #pump(): void {
    this.#scheduled = false;
    const ready = this.#ready;
    for (const job of this.#accepted) {
      if (this.#check(job)) ready.push(job);
    }
    this.#accepted.length = 0;
    while (this.#running < this.#concurrency && this.#readyHead < ready.length) {
      const job = ready[this.#readyHead]!;
      ready[this.#readyHead++] = undefined as unknown as Job;
      this.#running++;
      const busy = this.#run(job, 0);
      if (busy === undefined) this.#running--;
      else busy.then(this.#doneFn);
    }
    if (this.#readyHead === ready.length) {
      ready.length = 0;
      this.#readyHead = 0;
    }
    this.#settleIdle();
  }

  #done(): void {
    this.#running--;
    if (this.#readyHead < this.#ready.length) this.#schedule();
    else this.#settleIdle();
  }

  #settleIdle(): void {
    if (this.#idleWaiters.length > 0 && this.pending === 0 && !this.#scheduled) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /**
   * Decides job.fresh: which events to deliver (well-formed, and not seen before when they carry
   * a webhookEventId). True when decided synchronously (the in-memory dedup); else the job is
   * made ready once the shared store answers. Fails open: when the shared store is down, a
   * duplicate is better than a lost event.
   */
  #check(job: Job): boolean {
    const events = job.events;
    const fresh: boolean[] = (job.fresh = new Array<boolean>(events.length).fill(false));
    // Events whose keys go to the shared store: their indexes and keys.
    let at: number[] | undefined;
    let keys: string[] | undefined;
    for (let i = 0; i < events.length; i++) {
      const raw = events[i];
      const problem = envelopeProblem(raw);
      if (problem !== null) {
        this.#logger.warn({ channelId: job.channelId, eventIndex: i, problem: `the event ${problem}` }, "malformed webhook event skipped");
        continue;
      }
      const key = (job.platform ?? LINE_PLATFORM).key(job.channelId, raw, job.digest ?? null);
      if (key === null) {
        fresh[i] = true;
        continue;
      }
      if (this.#memoryDedup !== null) {
        if (this.#memoryDedup.markOnceSync(key, this.#dedupTtlMs)) fresh[i] = true;
        else this.#duplicate(job, (raw as WebhookEvent).webhookEventId ?? key);
        continue;
      }
      // Most deliveries carry one event: a one-element literal, not an empty array grown by push.
      if (at === undefined || keys === undefined) {
        at = [i];
        keys = [key];
      } else {
        at.push(i);
        keys.push(key);
      }
    }
    if (at === undefined || keys === undefined) return true;
    const indexes = at;
    this.#checking++;
    this.#marks!.mark(keys, (results) => {
      for (let n = 0; n < indexes.length; n++) {
        const i = indexes[n]!;
        const r = results[n]!;
        const id = (events[i] as WebhookEvent).webhookEventId ?? keys[n]!;
        if (r === true) fresh[i] = true;
        else if (r === false) this.#duplicate(job, id);
        else {
          this.#logger.error({ channelId: job.channelId, webhookEventId: id, err: describeError(r.error) }, "webhook de-duplication failed; processing the event anyway");
          fresh[i] = true;
        }
      }
      this.#checking--;
      this.#ready.push(job);
      this.#schedule();
    });
    return false;
  }

  #duplicate(job: Job, id: string): void {
    this.#logger.debug?.({ channelId: job.channelId, webhookEventId: id }, "duplicate webhook event skipped");
  }

  /**
   * Delivers job's fresh events from index `i` on, in order. Runs synchronously as long as the
   * handlers do and returns undefined; returns a promise (that never rejects) from the first
   * asynchronous handler on.
   */
  #run(job: Job, i: number): Promise<void> | undefined {
    const events = job.events;
    const fresh = job.fresh!;
    for (; i < events.length; i++) {
      if (!fresh[i]) continue;
      const busy = this.#deliver(events[i] as WebhookEvent, (job.info ??= { channelId: job.channelId, destination: job.destination, platform: (job.platform ?? LINE_PLATFORM).name }));
      if (busy !== undefined) {
        const next = i + 1;
        return busy.then(() => this.#run(job, next));
      }
    }
    return undefined;
  }
}
