import type { InboxEvent, InboxLease, InboxStore } from "./roles/inbox.ts";

/**
 * Base of the backends whose inbox lives in an object of its own (SQLite, Redis, PostgreSQL: see
 * their inbox.ts): the role's methods forward to it, written once here instead of in each store.
 */
export abstract class InboxForwarding implements InboxStore {
  /** The backend's inbox object. */
  protected abstract inboxRole(): InboxStore;

  acceptEvent(key: string, payload: string, ttlMs: number, now: number, lease?: InboxLease): Promise<boolean> {
    return this.inboxRole().acceptEvent(key, payload, ttlMs, now, lease);
  }
  claimEvents(owner: string, leaseMs: number, limit: number, now: number): Promise<InboxEvent[]> {
    return this.inboxRole().claimEvents(owner, leaseMs, limit, now);
  }
  finishEvent(key: string, owner: string, now: number): Promise<boolean> {
    return this.inboxRole().finishEvent(key, owner, now);
  }
  extendEvent(key: string, owner: string, leaseMs: number, now: number): Promise<boolean> {
    return this.inboxRole().extendEvent(key, owner, leaseMs, now);
  }
  releaseEvent(key: string, owner: string): Promise<boolean> {
    return this.inboxRole().releaseEvent(key, owner);
  }
  pruneEvents(now: number): Promise<number> {
    return this.inboxRole().pruneEvents(now);
  }
}
