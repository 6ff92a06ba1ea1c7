/**
 * The durable webhook inbox: accepted events written before the 200, handed to one owner at a
 * time under a lease, finished, and kept for the de-duplication window. Every time is the
 * caller's (`now`, epoch ms): instances sharing an inbox should keep their clocks within a small
 * part of the lease.
 */

/** An event handed out by {@link InboxStore.claimEvents}. */
export interface InboxEvent {
  key: string;
  /** What {@link InboxStore.acceptEvent} was given, as given. */
  payload: string;
  /** Claims so far, this one included (1 the first time; more after a lease ran out). */
  attempts: number;
  acceptedAt: number;
}

/** Who holds a lease, and for how long from `now`. */
export interface InboxLease {
  owner: string;
  leaseMs: number;
}

/** The inbox role. A key is one event (e.g. `webhook:<channelId>:<webhookEventId>`). */
export interface InboxStore {
  /**
   * Records an event: true the first time `key` is seen, false while it is remembered (unfinished,
   * or finished less than `ttlMs` after it was accepted). One write, carrying the event. With
   * `lease`, a new event is written already claimed by `lease.owner` until `now + lease.leaseMs`
   * (its first attempt), so the instance that accepted it handles it without a claim.
   */
  acceptEvent(key: string, payload: string, ttlMs: number, now: number, lease?: InboxLease): Promise<boolean>;
  /**
   * Leases up to `limit` unfinished events whose lease is free or ran out to `owner` until
   * `now + leaseMs`, oldest first; atomic, so no event is leased to two owners at once.
   */
  claimEvents(owner: string, leaseMs: number, limit: number, now: number): Promise<InboxEvent[]>;
  /** Marks the event finished; false (and nothing changed) when `owner` no longer holds it. */
  finishEvent(key: string, owner: string, now: number): Promise<boolean>;
  /** Keeps `owner`'s lease for `leaseMs` more from `now`; false when it is no longer the owner's. */
  extendEvent(key: string, owner: string, leaseMs: number, now: number): Promise<boolean>;
  /** Gives the event back unfinished (claimable at once); false when `owner` does not hold it. */
  releaseEvent(key: string, owner: string): Promise<boolean>;
  /** Drops finished events whose de-duplication window has passed; returns how many. */
  pruneEvents(now: number): Promise<number>;
}

/** One acceptEvent call, as the backends that batch them (SQLite, PostgreSQL) queue it. */
export interface InboxAccept {
  key: string;
  payload: string;
  ttlMs: number;
  now: number;
  lease: InboxLease | undefined;
}
