import type { CredentialStore, LockStore } from "../store/types.ts";
import type { Logger } from "./logger.ts";
import type { MaintenanceTarget } from "./types.ts";

/** Options of {@link Scheduler}. Durations in ms. */
export interface SchedulerOptions {
  /** How often due work is looked for (default 1000). */
  tickMs?: number;
  /** Each channel is reconciled about this often, ±10 % (default 1 hour). */
  reconcileMs?: number;
  /** How often the channel list is re-read, to pick up added and removed channels (default 30000). */
  channelListMs?: number;
  /** Channels maintained at the same time (default 2). */
  concurrency?: number;
  /** Least time between starting two maintenance calls (default 25): many due channels are spread out. */
  gapMs?: number;
  /** Longest time a channel goes unchecked, so changes made by other instances are seen (default 5 minutes). */
  maxIdleMs?: number;
  now?: () => number;
  /** Random in [0, 1) (default Math.random), for jitter. */
  random?: () => number;
}

interface ChannelPlan {
  nextAt: number;
  reconcileAt: number;
  failures: number;
  running: boolean;
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
 * Work is spread out: at most `concurrency` channels at once, `gapMs` apart, reconciles
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
  readonly #store: Pick<CredentialStore, "listChannels"> & LockStore;
  readonly #target: MaintenanceTarget;
  readonly #hooks: SchedulerHooks;
  readonly #tickMs: number;
  readonly #reconcileMs: number;
  readonly #listMs: number;
  readonly #concurrency: number;
  readonly #gapMs: number;
  readonly #maxIdleMs: number;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #plans = new Map<string, ChannelPlan>();
  readonly #running = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | null = null;
  #listedAt = -Infinity;
  #listing: Promise<void> | null = null;
  #lastStartAt = -Infinity;
  #lastTickAt = -Infinity;
  #stopped = false;

  constructor(store: Pick<CredentialStore, "listChannels"> & LockStore, target: MaintenanceTarget, options: SchedulerOptions = {}, hooks: SchedulerHooks = {}) {
    this.#store = store;
    this.#target = target;
    this.#hooks = hooks;
    this.#tickMs = options.tickMs ?? 1000;
    this.#reconcileMs = options.reconcileMs ?? 3600_000;
    this.#listMs = options.channelListMs ?? 30_000;
    this.#concurrency = options.concurrency ?? 2;
    this.#gapMs = options.gapMs ?? 25;
    this.#maxIdleMs = options.maxIdleMs ?? 300_000;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /** Starts ticking (idempotent). */
  start(): void {
    if (this.#timer !== null || this.#stopped) return;
    this.#timer = setInterval(() => this.tick(), this.#tickMs);
    this.#timer.unref();
    this.tick();
  }

  /** Stops ticking and waits for maintenance already started. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await Promise.allSettled([...this.#running]);
    await this.#listing?.catch(() => {});
  }

  /** True while the loop is running and ticked recently (for /readyz). */
  get alive(): boolean {
    return this.#timer !== null && !this.#stopped && this.#now() - this.#lastTickAt <= this.#tickMs * 3 + 1000;
  }

  /** Makes a channel due now (after a manual action, or when a token read found it stale). */
  nudge(channelId: string): void {
    const plan = this.#plans.get(channelId);
    if (plan) plan.nextAt = this.#now();
  }

  /** One pass: refresh the channel list when stale, then start due work. Exposed for tests. */
  tick(): void {
    if (this.#stopped) return;
    const now = this.#now();
    this.#lastTickAt = now;
    if (now - this.#listedAt >= this.#listMs && this.#listing === null) {
      this.#listing = this.#list().finally(() => {
        this.#listing = null;
      });
      return;
    }
    this.#startDue(now);
  }

  async #list(): Promise<void> {
    try {
      const rows = await this.#store.listChannels();
      const now = this.#now();
      const seen = new Set<string>();
      for (const row of rows) {
        seen.add(row.channelId);
        if (!this.#plans.has(row.channelId)) {
          // New channels are due now; their reconciles are staggered over one interval.
          this.#plans.set(row.channelId, { nextAt: now, reconcileAt: now + Math.floor(this.#random() * this.#reconcileMs), failures: 0, running: false });
        }
      }
      for (const id of this.#plans.keys()) if (!seen.has(id)) this.#plans.delete(id);
      this.#listedAt = now;
      this.#startDue(now);
    } catch (error) {
      this.#listedAt = this.#now() - this.#listMs + 5000;
      this.#hooks.log?.warn({ err: describe(error) }, "scheduler could not list channels; retrying in 5 s");
    }
  }

  #startDue(now: number): void {
    const due = [...this.#plans.entries()]
      .filter(([, p]) => !p.running && (p.nextAt <= now || p.reconcileAt <= now))
      .sort((a, b) => Math.min(a[1].nextAt, a[1].reconcileAt) - Math.min(b[1].nextAt, b[1].reconcileAt));
    for (const [channelId, plan] of due) {
      if (this.#running.size >= this.#concurrency) return;
      const wait = this.#lastStartAt + this.#gapMs - this.#now();
      if (wait > 0) {
        // Spread: come back for the rest after the gap instead of starting a burst.
        setTimeout(() => this.#startDue(this.#now()), wait).unref();
        return;
      }
      this.#lastStartAt = this.#now();
      plan.running = true;
      const job = this.#run(channelId, plan).finally(() => {
        plan.running = false;
        this.#running.delete(job);
        if (!this.#stopped) this.#startDue(this.#now());
      });
      this.#running.add(job);
    }
  }

  async #run(channelId: string, plan: ChannelPlan): Promise<void> {
    const now = this.#now();
    if (plan.reconcileAt <= now) {
      plan.reconcileAt = now + Math.floor(this.#reconcileMs * (0.9 + 0.2 * this.#random()));
      await this.#reconcile(channelId);
    }
    if (plan.nextAt > this.#now()) return;
    try {
      const next = await this.#target.maintain(channelId);
      plan.failures = 0;
      const after = this.#now();
      plan.nextAt = Math.min(Math.max(next ?? after + this.#maxIdleMs, after + this.#tickMs), after + this.#maxIdleMs);
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
