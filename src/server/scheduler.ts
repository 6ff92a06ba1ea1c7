import type { CredentialStore, LockStore } from "../store/types.ts";
import type { Logger } from "./logger.ts";
import type { MaintenanceTarget } from "./types.ts";
import { DueHeap, type DueEntry } from "./due-heap.ts";

/** Options of {@link Scheduler}. Durations in ms. */
export interface SchedulerOptions {
  /**
   * Longest sleep between two wake-ups (default 1000): the scheduler sleeps until the next due
   * channel, but looks at the clock at least this often (an O(1) peek, no store access), so a
   * clock that jumps (NTP, suspend, a test clock) is noticed.
   */
  tickMs?: number;
  /**
   * Each channel is reconciled against the provider's list about this often, ±10 % (default 7
   * days): a due time of its own in the heap, staggered over the interval and taken once per
   * interval across instances. Reconciles with a reason happen anyway: the issuer reconciles
   * before issuing when an earlier attempt may have issued a token nobody stored (an issue intent
   * left behind, an ambiguous failure), and maintenance checks counted orphans hourly.
   */
  reconcileMs?: number;
  /** How often the channel list is re-read, to pick up added and removed channels (default 30000). */
  channelListMs?: number;
  /** Channels maintained at the same time (default 2). */
  concurrency?: number;
  /** Least time between starting two maintenance calls (default 25): many due channels are spread out. */
  gapMs?: number;
  /**
   * Longest time a channel goes unchecked (default 7 days). Changes made by other instances are
   * seen anyway at the next due time (a refresh point is read again from the store before
   * acting), so this is only a safety net; every check costs store reads.
   */
  maxIdleMs?: number;
  /**
   * Each due time is put off by a random part of this (default 2000), drawn per instance: of
   * several instances on one store, the one that drew least does the work and the others find
   * it done, instead of all of them racing for the channel's lock at the same moment; if that
   * one died, the next takes over.
   */
  spreadMs?: number;
  now?: () => number;
  /** Random in [0, 1) (default Math.random), for jitter. */
  random?: () => number;
}

/** What the scheduler reads: the channel list (the IDs alone when the store can) and locks. */
export type SchedulerStore = Pick<CredentialStore, "listChannels"> & Partial<Pick<CredentialStore, "listChannelIds">> & LockStore;

interface ChannelPlan {
  nextAt: number;
  reconcileAt: number;
  failures: number;
  running: boolean;
  /** Put in this instance's own order as part of a backlog, once per due time. */
  reordered: boolean;
}

/** Hooks the server gives the scheduler for logs and metrics. */
export interface SchedulerHooks {
  log?: Logger;
  onRun?(outcome: "ok" | "error" | "reconciled" | "reconcile_error"): void;
}

/**
 * The background scheduler of `kagiya serve`: asks the token lifecycle to maintain each
 * channel when it is due (refresh at the jittered refresh point, revoke superseded tokens,
 * prune) and reconciles every channel periodically, so that token reads never wait on LINE.
 * Due times sit in a min-heap and one timer sleeps until the earliest, so an idle broker costs
 * the same with ten channels or ten thousand; the channel list is re-read every `channelListMs`.
 * Work is spread out: at most `concurrency` channels at once, `gapMs` apart, each due time put
 * off by a per-instance random `spreadMs` (so instances sharing a store split the work), reconciles
 * staggered over their interval and taken once per interval across instances through a
 * store lock.
 *
 * @example
 * ```ts
 * const scheduler = new Scheduler(store, manager, {}, { log });
 * scheduler.start();
 * // ...
 * await scheduler.stop();
 * ```
 */
export class Scheduler {
  readonly #store: SchedulerStore;
  readonly #target: MaintenanceTarget;
  readonly #hooks: SchedulerHooks;
  readonly #tickMs: number;
  readonly #reconcileMs: number;
  readonly #listMs: number;
  readonly #concurrency: number;
  readonly #gapMs: number;
  readonly #maxIdleMs: number;
  readonly #spreadMs: number;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #plans = new Map<string, ChannelPlan>();
  readonly #due = new DueHeap();
  readonly #running = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | null = null;
  #started = false;
  #listedAt = -Infinity;
  #listing: Promise<void> | null = null;
  #checking: { ids: string[]; result: Promise<Map<string, number | null>> } | null = null;
  #lastStartAt = -Infinity;
  #lastTickAt = -Infinity;
  #stopped = false;
  #readyAt: number | null = null;
  #resolveReady!: () => void;
  readonly #ready = new Promise<void>((resolve) => (this.#resolveReady = resolve));

  constructor(store: SchedulerStore, target: MaintenanceTarget, options: SchedulerOptions = {}, hooks: SchedulerHooks = {}) {
    this.#store = store;
    this.#target = target;
    this.#hooks = hooks;
    this.#tickMs = options.tickMs ?? 1000;
    this.#reconcileMs = options.reconcileMs ?? 7 * 86_400_000;
    this.#listMs = options.channelListMs ?? 30_000;
    this.#concurrency = options.concurrency ?? 2;
    this.#gapMs = options.gapMs ?? 25;
    this.#maxIdleMs = options.maxIdleMs ?? 7 * 86_400_000;
    this.#spreadMs = options.spreadMs ?? 2000;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /** Starts the loop (idempotent). */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.tick();
  }

  /** Stops the loop and waits for maintenance already started. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await Promise.allSettled([...this.#running]);
    await this.#listing?.catch(() => {});
  }

  /** True while the loop is running and woke recently (for /readyz). */
  get alive(): boolean {
    return this.#started && !this.#stopped && this.#now() - this.#lastTickAt <= this.#tickMs * 3 + 1000;
  }

  /**
   * True once the first channel list has been read and every channel planned from what is
   * stored (start-up reads; it waits for no issuance).
   */
  get ready(): boolean {
    return this.#readyAt !== null;
  }

  /** Resolves when {@link ready} turns true. */
  whenReady(): Promise<void> {
    return this.#ready;
  }

  /** How many channels are planned (for metrics and tests). */
  get size(): number {
    return this.#plans.size;
  }

  /** Makes a channel due now (after a manual action, or when a token read found it stale). */
  nudge(channelId: string): void {
    const plan = this.#plans.get(channelId);
    if (!plan) return;
    plan.nextAt = this.#now();
    this.#push(channelId, plan);
    if (this.#started && !this.#stopped) this.#startDue(this.#now());
  }

  /** One pass: re-read the channel list when stale, then start due work, then sleep. Exposed for tests. */
  tick(): void {
    if (this.#stopped) return;
    const now = this.#now();
    this.#lastTickAt = now;
    if (now - this.#listedAt >= this.#listMs && this.#listing === null) {
      this.#listing = this.#list().finally(() => {
        this.#listing = null;
        this.#arm();
      });
      return;
    }
    this.#startDue(now);
    this.#arm();
  }

  /** One timer: until the earliest due channel or list re-read, at most `tickMs` away. */
  #arm(): void {
    if (this.#stopped || !this.#started) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    const now = this.#now();
    const next = Math.min(this.#due.peek()?.at ?? Infinity, this.#listedAt + this.#listMs);
    const wait = Math.max(0, Math.min(next - now, this.#tickMs));
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.tick();
    }, wait);
    this.#timer.unref();
  }

  #push(channelId: string, plan: ChannelPlan): void {
    this.#due.push(channelId, Math.min(plan.nextAt, plan.reconcileAt));
  }

  async #list(): Promise<void> {
    try {
      const store = this.#store;
      const ids = store.listChannelIds !== undefined ? await store.listChannelIds() : (await store.listChannels()).map((row) => row.channelId);
      const seen = new Set(ids);
      const added = ids.filter((id) => !this.#plans.has(id));
      // What is stored says when each new channel is due (one bulk read, not a maintenance call
      // each): a valid token at its refresh point, a missing one now.
      const due = added.length > 0 && this.#target.dueMany !== undefined ? await this.#target.dueMany(added) : null;
      const now = this.#now();
      for (const id of added) {
        if (this.#plans.has(id)) continue;
        const at = due?.get(id);
        // Due times get this instance's spread, those due now included: instances starting together
        // on one store then take the channels in different orders instead of all queueing on the same ones.
        const nextAt = Math.max(now, at ?? now) + Math.floor(this.#random() * this.#spreadMs);
        // Reconciles are staggered over one interval.
        const plan = { nextAt, reconcileAt: now + Math.floor(this.#random() * this.#reconcileMs), failures: 0, running: false, reordered: false };
        this.#plans.set(id, plan);
        this.#push(id, plan);
      }
      // Removed channels leave stale heap entries behind; they are dropped when they surface.
      for (const id of this.#plans.keys()) if (!seen.has(id)) this.#plans.delete(id);
      this.#listedAt = now;
      this.#markReady();
      this.#startDue(now);
    } catch (error) {
      this.#listedAt = this.#now() - this.#listMs + 5000;
      this.#hooks.log?.warn({ err: describe(error) }, "scheduler could not list channels; retrying in 5 s");
    }
  }

  #markReady(): void {
    if (this.#readyAt !== null) return;
    this.#readyAt = this.#now();
    this.#resolveReady();
  }

  #startDue(now: number): void {
    if (this.#stopped) return;
    while (this.#running.size < this.#concurrency) {
      const top = this.#due.peek();
      if (top === undefined || top.at > now) return;
      const plan = this.#plans.get(top.channelId);
      // Entries whose channel is gone, is running, or was re-planned since are stale.
      if (plan === undefined || plan.running || Math.min(plan.nextAt, plan.reconcileAt) !== top.at) {
        this.#due.pop();
        continue;
      }
      if (this.#reorder(top, plan, now)) continue;
      const wait = this.#lastStartAt + this.#gapMs - this.#now();
      if (wait > 0) {
        // Spread: come back for the rest after the gap instead of starting a burst.
        setTimeout(() => this.#startDue(this.#now()), wait).unref();
        return;
      }
      this.#due.pop();
      const channelId = top.channelId;
      this.#lastStartAt = this.#now();
      plan.running = true;
      const job = this.#run(channelId, plan).finally(() => {
        plan.running = false;
        this.#running.delete(job);
        if (this.#plans.get(channelId) === plan) this.#push(channelId, plan);
        if (!this.#stopped) {
          this.#startDue(this.#now());
          this.#arm();
        }
      });
      this.#running.add(job);
    }
  }

  /**
   * A backlog (a clock that jumped, a pause, refreshes held back by the issuance cap) is taken in
   * this instance's own random order: due times past by more than the spread, with more due behind
   * them, are drawn again within the next spread, once. Instances sharing a store then split the
   * backlog (and find each other's work done, see {@link #doneElsewhere}) instead of all queueing
   * on the same channels' locks in due-time order. True when `top` was put back.
   */
  #reorder(top: DueEntry, plan: ChannelPlan, now: number): boolean {
    if (this.#spreadMs <= 0 || plan.reordered || plan.nextAt !== top.at || now - top.at <= this.#spreadMs) return false;
    this.#due.pop();
    const behind = this.#due.peek();
    plan.reordered = true;
    if (behind === undefined || behind.at > now) {
      // Alone: no order to change, no reason to wait.
      this.#due.push(top.channelId, top.at);
      return true;
    }
    plan.nextAt = now + this.#random() * this.#spreadMs;
    this.#push(top.channelId, plan);
    return true;
  }

  /**
   * Whether the channel's due work was already done by another instance on the store: one bulk
   * read (dueMany, batched with the other checks started at the same moment) instead of a whole
   * maintenance call's reads and locks. When done, the plan follows what is stored.
   */
  async #doneElsewhere(channelId: string, plan: ChannelPlan): Promise<boolean> {
    if (this.#target.dueMany === undefined) return false;
    let stored: number | null | undefined;
    try {
      stored = await this.#check(channelId);
    } catch {
      return false;
    }
    const now = this.#now();
    if (stored === undefined || stored === null || stored <= now) return false;
    plan.nextAt = Math.min(stored, now + this.#maxIdleMs) + Math.floor(this.#random() * this.#spreadMs);
    return true;
  }

  /** dueMany for one channel, in one call with every other check asked for in the same turn of the event loop. */
  #check(channelId: string): Promise<number | null | undefined> {
    let batch = this.#checking;
    if (batch === null) {
      const ids: string[] = [];
      const result = new Promise<Map<string, number | null>>((resolve, reject) => {
        setImmediate(() => {
          this.#checking = null;
          this.#target.dueMany!(ids).then(resolve, reject);
        });
      });
      batch = this.#checking = { ids, result };
    }
    batch.ids.push(channelId);
    return batch.result.then((due) => due.get(channelId));
  }

  async #run(channelId: string, plan: ChannelPlan): Promise<void> {
    const now = this.#now();
    plan.reordered = false;
    if (plan.reconcileAt <= now) {
      plan.reconcileAt = now + Math.floor(this.#reconcileMs * (0.9 + 0.2 * this.#random()));
      await this.#reconcile(channelId);
    }
    if (plan.nextAt > this.#now()) return;
    if (await this.#doneElsewhere(channelId, plan)) return;
    try {
      const next = await this.#target.maintain(channelId);
      plan.failures = 0;
      const after = this.#now();
      const due = Math.min(Math.max(next ?? after + this.#maxIdleMs, after + this.#tickMs), after + this.#maxIdleMs);
      plan.nextAt = due + Math.floor(this.#random() * this.#spreadMs);
      this.#hooks.onRun?.("ok");
    } catch (error) {
      plan.failures++;
      const backoff = Math.min(600_000, 5000 * 2 ** Math.min(plan.failures - 1, 7));
      plan.nextAt = this.#now() + Math.floor(backoff * (0.5 + this.#random() * 0.5));
      this.#hooks.onRun?.("error");
      this.#hooks.log?.warn({ channelId, err: describe(error), failures: plan.failures }, "scheduled token maintenance failed; backing off");
    }
  }

  async #reconcile(channelId: string): Promise<void> {
    try {
      // One reconcile per interval across every instance on this store; the lock is left to expire.
      const lock = await this.#store.tryLock(`reconcile:${channelId}`, Math.floor(this.#reconcileMs / 2));
      if (lock === null) return;
      await this.#target.reconcile(channelId, { actor: "scheduler" });
      this.#hooks.onRun?.("reconciled");
    } catch (error) {
      // A kind without a ledger (stateless tokens) has nothing to reconcile.
      if ((error as { code?: unknown } | null)?.code === "ERR_KIND_NO_LEDGER") return;
      this.#hooks.onRun?.("reconcile_error");
      this.#hooks.log?.warn({ channelId, err: describe(error) }, "scheduled reconcile failed");
    }
  }
}

function describe(error: unknown): { code?: string; message: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" ? { code, message: error.message } : { message: error.message };
  }
  return { message: String(error) };
}
