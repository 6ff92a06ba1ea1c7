/**
 * The durable path of the intake: a delivery's events are written to the inbox (one write per
 * event, which is also the duplicate check) before the 200 is sent, and handlers run from the
 * inbox: claim under a lease → handle → finish. Leases of events being handled are extended while
 * they run, so no two instances handle an event at once; events of an instance that died are
 * claimed again once their lease runs out. Events of one delivery run in order.
 */
import type { InboxEvent, InboxStore } from "../store/roles/inbox.ts";
import { createDeliver, type Deliver } from "./dispatch.ts";
import { describeError } from "./log.ts";
import type { DeliveryInfo, ResolvedWebhookOptions } from "./options.ts";
import { envelopeProblem } from "./parse.ts";
import { LINE_PLATFORM } from "./platform.ts";
import type { Delivery } from "./queue.ts";
import type { Logger, WebhookEvent } from "./types.ts";

/** The inbox the intake writes to: the Store's InboxStore role (any backend). */
export type WebhookInbox = InboxStore;

/** What an inbox row carries: the event and where it came from. */
interface Payload {
  /** channelId, destination */
  c: string;
  d: string;
  /** The delivery (random per request) and the event's index in it, for ordering. */
  r: string;
  i: number;
  e: WebhookEvent;
  /** "w" for a LINE WORKS callback; absent for LINE. */
  p?: "w";
}

interface Held {
  key: string;
  payload: Payload;
  acceptedAt: number;
}

/** How often finished events past their window are pruned, ms. */
const PRUNE_EVERY_MS = 60_000;

const unref = (t: unknown): void => (t as { unref?: () => void }).unref?.();

/**
 * Accepted events on their way to the handlers through a store.
 *
 * @example
 * ```ts
 * const runner = new InboxRunner(resolveWebhookOptions({ secretFor, bot, inbox: store }));
 * if (await runner.offer({ channelId, destination, events })) respond(200);
 * ```
 */
export class InboxRunner {
  readonly #inbox: WebhookInbox;
  readonly #ttlMs: number;
  readonly #leaseMs: number;
  readonly #concurrency: number;
  readonly #maxPending: number;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #deliver: Deliver;
  readonly #owner = `inbox-${crypto.randomUUID()}`;
  /** Events claimed by this instance and not finished yet. */
  readonly #held = new Map<string, Held>();
  /** Deliveries (by their ref) whose events are running or waiting, in order. */
  readonly #chains = new Map<string, Held[]>();
  readonly #ready: string[] = [];
  #running = 0;
  #writes = 0;
  #claiming: Promise<number> | null = null;
  #again = false;
  #stopped = false;
  #lastPrune = -Infinity;
  #idleWaiters: Array<() => void> = [];
  readonly #timers: unknown[] = [];

  constructor(options: Pick<ResolvedWebhookOptions, "inbox" | "dedupTtlMs" | "inboxLeaseMs" | "inboxPollMs" | "concurrency" | "maxPending" | "logger" | "now" | "bot" | "onEvent">) {
    this.#inbox = options.inbox!;
    this.#ttlMs = options.dedupTtlMs;
    this.#leaseMs = options.inboxLeaseMs;
    this.#concurrency = options.concurrency;
    this.#maxPending = options.maxPending;
    this.#logger = options.logger;
    this.#now = options.now;
    this.#deliver = createDeliver(options);
    // Polling finds events left by a restart or by an instance that died, once their lease ran out.
    const poll = setInterval(() => this.#pump(), options.inboxPollMs);
    const beat = setInterval(() => this.#extend(), Math.max(1, Math.floor(this.#leaseMs / 3)));
    unref(poll);
    unref(beat);
    this.#timers.push(poll, beat);
    queueMicrotask(() => this.#pump());
  }

  /** Deliveries being written, and events claimed by this instance and not finished. */
  get pending(): number {
    return this.#writes + this.#held.size;
  }

  /**
   * Writes a delivery's well-formed events to the inbox; resolves true once every one is written
   * (a duplicate counts as written), false when the store failed (nothing is lost: LINE
   * redelivers, and what was written is de-duplicated), or "busy" at once past maxPending.
   */
  offer(delivery: Delivery): Promise<boolean> | "busy" {
    if (this.pending >= this.#maxPending) return "busy";
    const now = this.#now();
    const ref = crypto.randomUUID();
    const lease = { owner: this.#owner, leaseMs: this.#leaseMs };
    const held: Held[] = [];
    const writes: Array<Promise<boolean>> = [];
    delivery.events.forEach((raw, i) => {
      const problem = envelopeProblem(raw);
      if (problem !== null) {
        this.#logger.warn({ channelId: delivery.channelId, eventIndex: i, problem: `the event ${problem}` }, "malformed webhook event skipped");
        return;
      }
      const platform = delivery.platform ?? LINE_PLATFORM;
      // Without an event ID there is nothing to de-duplicate on: a key of its own.
      const key = platform.key(delivery.channelId, raw, delivery.digest ?? null) ?? `webhook:${delivery.channelId}:~${crypto.randomUUID()}`;
      const payload: Payload = { c: delivery.channelId, d: delivery.destination, r: ref, i, e: raw as WebhookEvent };
      if (platform !== LINE_PLATFORM) payload.p = "w";
      held.push({ key, payload, acceptedAt: now });
      // Written already leased to this instance, which handles it from memory: no claim needed.
      try {
        writes.push(this.#inbox.acceptEvent(key, JSON.stringify(payload), this.#ttlMs, now, lease));
      } catch (err) {
        writes.push(Promise.reject(err));
      }
    });
    if (writes.length === 0) return Promise.resolve(true);
    this.#writes++;
    return Promise.all(writes).then(
      (fresh) => {
        this.#writes--;
        this.#enqueue(held.filter((_, at) => fresh[at]));
        this.#settleIdle();
        return true;
      },
      (err: unknown) => {
        this.#writes--;
        this.#logger.error({ channelId: delivery.channelId, err: describeError(err) }, "webhook events could not be written to the inbox; answered 503 so LINE redelivers");
        this.#settleIdle();
        return false;
      },
    );
  }

  /** Resolves once nothing this instance can claim is left unhandled (for shutdown and tests). */
  async drain(): Promise<void> {
    for (;;) {
      await new Promise<void>((resolve) => {
        this.#idleWaiters.push(resolve);
        this.#settleIdle();
      });
      if (this.#stopped) return;
      let claimed: number;
      try {
        claimed = await this.#claim();
      } catch {
        return; // logged by #claim; the store is down, so nothing more can be done now
      }
      if (claimed === 0 && this.pending === 0) return;
    }
  }

  /** Stops polling and lease extension; events still held are given back (best effort). */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t as ReturnType<typeof setInterval>);
    const waiting = [...this.#chains.values()].flatMap((chain) => chain.splice(1));
    for (const h of waiting) this.#held.delete(h.key);
    await Promise.all(waiting.map((h) => this.#inbox.releaseEvent(h.key, this.#owner).catch(() => false)));
  }

  #settleIdle(): void {
    if (this.#idleWaiters.length > 0 && this.pending === 0 && this.#claiming === null) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Claims more when there is room; a claim already running is asked to go again. */
  #pump(): void {
    if (this.#stopped) return;
    if (this.#claiming !== null) {
      this.#again = true;
      return;
    }
    this.#claim().catch(() => undefined);
  }

  #claim(): Promise<number> {
    if (this.#claiming !== null) return this.#claiming;
    const room = this.#maxHeld() - this.#held.size;
    if (room <= 0 || this.#stopped) return Promise.resolve(0);
    const now = this.#now();
    this.#again = false;
    const claiming = (async () => {
      try {
        if (now - this.#lastPrune >= PRUNE_EVERY_MS) {
          this.#lastPrune = now;
          this.#inbox.pruneEvents(now).catch((err: unknown) => this.#logger.warn({ err: describeError(err) }, "webhook inbox pruning failed"));
        }
        const events = await this.#inbox.claimEvents(this.#owner, this.#leaseMs, room, now);
        this.#take(events);
        if (events.length === room) this.#again = true;
        return events.length;
      } catch (err) {
        this.#logger.error({ err: describeError(err) }, "webhook inbox claim failed; retrying on the next poll");
        throw err;
      } finally {
        this.#claiming = null;
        if (this.#again) this.#pump();
        this.#settleIdle();
      }
    })();
    this.#claiming = claiming;
    return claiming;
  }

  /** Events this instance holds at most: enough to keep every handler slot busy. */
  #maxHeld(): number {
    return this.#concurrency * 8;
  }

  #take(events: InboxEvent[]): void {
    const held: Held[] = [];
    for (const e of events) {
      let payload: Payload;
      try {
        payload = JSON.parse(e.payload) as Payload;
      } catch (err) {
        this.#logger.error({ key: e.key, err: describeError(err) }, "unreadable webhook inbox event finished unhandled");
        void this.#inbox.finishEvent(e.key, this.#owner, this.#now()).catch(() => false);
        continue;
      }
      if (e.attempts > 1) this.#logger.warn({ channelId: payload.c, webhookEventId: payload.e.webhookEventId, attempts: e.attempts }, "webhook event handled again: its earlier handling did not finish");
      held.push({ key: e.key, payload, acceptedAt: e.acceptedAt });
    }
    this.#enqueue(held);
  }

  /** Holds events leased to this instance and queues them by delivery, each delivery in order. */
  #enqueue(events: Held[]): void {
    const fresh = new Set<string>();
    for (const held of events) {
      const payload = held.payload;
      this.#held.set(held.key, held);
      let chain = this.#chains.get(payload.r);
      if (chain === undefined) {
        this.#chains.set(payload.r, (chain = []));
        fresh.add(payload.r);
      }
      chain.push(held);
    }
    for (const ref of fresh) {
      this.#chains.get(ref)!.sort((a, b) => a.payload.i - b.payload.i);
      this.#ready.push(ref);
    }
    this.#runReady();
  }

  #runReady(): void {
    while (this.#running < this.#concurrency && this.#ready.length > 0) {
      const ref = this.#ready.shift()!;
      this.#running++;
      void this.#runChain(ref).finally(() => {
        this.#running--;
        this.#runReady();
        this.#pump();
        this.#settleIdle();
      });
    }
  }

  async #runChain(ref: string): Promise<void> {
    const chain = this.#chains.get(ref)!;
    while (chain.length > 0) {
      const held = chain[0]!;
      {
        const info: DeliveryInfo = { channelId: held.payload.c, destination: held.payload.d, platform: held.payload.p === "w" ? "line-works" : "line" };
        const busy = this.#deliver(held.payload.e, info);
        if (busy !== undefined) await busy;
        try {
          if (!(await this.#inbox.finishEvent(held.key, this.#owner, this.#now()))) {
            this.#logger.warn({ channelId: info.channelId, webhookEventId: held.payload.e.webhookEventId }, "webhook event handled, but its inbox lease had passed to another instance");
          }
        } catch (err) {
          // Not finished in the store: it runs again once the lease runs out (at least once).
          this.#logger.error({ channelId: info.channelId, webhookEventId: held.payload.e.webhookEventId, err: describeError(err) }, "webhook event handled but could not be marked finished");
        }
      }
      chain.shift();
      this.#held.delete(held.key);
    }
    this.#chains.delete(ref);
  }

  /** Keeps the leases of every held event while this instance lives. */
  #extend(): void {
    const now = this.#now();
    for (const held of this.#held.values()) {
      this.#inbox.extendEvent(held.key, this.#owner, this.#leaseMs, now).then(
        (ok) => {
          if (!ok && this.#held.has(held.key)) this.#logger.warn({ channelId: held.payload.c, webhookEventId: held.payload.e.webhookEventId }, "webhook inbox lease lost (the event may be handled again elsewhere)");
        },
        (err: unknown) => this.#logger.warn({ err: describeError(err) }, "webhook inbox lease extension failed"),
      );
    }
  }
}
