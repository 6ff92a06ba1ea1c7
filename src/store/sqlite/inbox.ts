// The SQLite backend's inbox role (table `inbox`, migration 3): accepts and finishes gather for a
// few ms and are written in one transaction each, since a commit is what costs.
import { MicroBatcher } from "../batcher.ts";
import type { InboxAccept as Accept } from "../roles/inbox.ts";
import type { InboxEvent, InboxLease, InboxStore } from "../types.ts";
import { BackendRole } from "../backend-role.ts";
import type { SqliteHost } from "./host.ts";

/** Most accepts or finishes written in one transaction. */
const BATCH = 1000;
/** How long accepts gather before their transaction (the 200 waits for it: keep it short). */
const WINDOW_MS = 2;

/** The inbox role over one SQLite database. */
export class SqliteInbox extends BackendRole<SqliteHost> implements InboxStore {
  #accepts = 0;
  readonly #accept: MicroBatcher<Accept, boolean>;
  readonly #finish: MicroBatcher<{ key: string; owner: string; now: number }, boolean>;

  constructor(host: SqliteHost) {
    super(host);
    // Accepts are committed with an fsync (an event answered 200 survives a power cut); finishes
    // are not: a finish lost to a power cut only means the event is handled again.
    this.#accept = new MicroBatcher({ run: (batch) => this.#batch("acceptEvent", true, () => this.#writeAccepts(batch)), windowMs: WINDOW_MS, maxBatch: BATCH });
    this.#finish = new MicroBatcher({ run: (batch) => this.#batch("finishEvent", false, () => batch.map((f) => this.#finishOne(f.key, f.owner, f.now))), windowMs: WINDOW_MS, maxBatch: BATCH });
  }

  /** Starts the waiting batches now (before the store closes). */
  flush(): void {
    this.#accept.flush();
    this.#finish.flush();
  }

  #batch<T>(what: string, sync: boolean, fn: () => T): T {
    try {
      return sync ? this.h.tx(fn) : this.h.txWithoutSync(fn);
    } catch (error) {
      throw this.h.fail(what, error);
    }
  }

  #writeAccepts(batch: readonly Accept[]): boolean[] {
    // A new row, or a finished one past its window taken over; `changes` tells which.
    const put = this.h.stmt(
      `INSERT INTO inbox (key, payload, accepted_at, expires_at, owner, lease_until, attempts) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET payload = excluded.payload, accepted_at = excluded.accepted_at, expires_at = excluded.expires_at,
       owner = excluded.owner, lease_until = excluded.lease_until, attempts = excluded.attempts, finished_at = NULL
       WHERE inbox.finished_at IS NOT NULL AND inbox.expires_at <= ?`,
    );
    const out = batch.map((a) =>
      Number(put.run(a.key, a.payload, a.now, a.now + a.ttlMs, a.lease?.owner ?? null, a.lease ? a.now + a.lease.leaseMs : 0, a.lease ? 1 : 0, a.now).changes) === 1);
    this.#accepts += batch.length;
    if (this.#accepts >= 1000) {
      this.#accepts = 0;
      this.#prune(batch[batch.length - 1]!.now);
    }
    return out;
  }

  #finishOne(key: string, owner: string, now: number): boolean {
    return Number(this.h.stmt("UPDATE inbox SET finished_at = ?, owner = NULL, lease_until = 0 WHERE key = ? AND owner = ? AND finished_at IS NULL").run(now, key, owner).changes) === 1;
  }

  #prune(now: number): number {
    return Number(this.h.stmt("DELETE FROM inbox WHERE finished_at IS NOT NULL AND expires_at <= ?").run(now).changes);
  }

  acceptEvent(key: string, payload: string, ttlMs: number, now: number, lease?: InboxLease): Promise<boolean> {
    return this.h.run("acceptEvent", () => this.#accept).then((b) => b.add({ key, payload, ttlMs, now, lease }));
  }

  claimEvents(owner: string, leaseMs: number, limit: number, now: number): Promise<InboxEvent[]> {
    return this.h.run("claimEvents", () =>
      this.h.tx(() =>
        this.h
          .stmt(
            `UPDATE inbox SET owner = ?, lease_until = ?, attempts = attempts + 1 WHERE key IN
             (SELECT key FROM inbox WHERE finished_at IS NULL AND lease_until <= ? ORDER BY accepted_at, rowid LIMIT ?)
             RETURNING key, payload, attempts, accepted_at, rowid AS seq`,
          )
          .all(owner, now + leaseMs, now, limit)
          .sort((a, b) => (a["seq"] as number) - (b["seq"] as number))
          .map((r) => ({ key: r["key"] as string, payload: r["payload"] as string, attempts: r["attempts"] as number, acceptedAt: r["accepted_at"] as number })),
      ),
    );
  }

  finishEvent(key: string, owner: string, now: number): Promise<boolean> {
    return this.h.run("finishEvent", () => this.#finish).then((b) => b.add({ key, owner, now }));
  }

  extendEvent(key: string, owner: string, leaseMs: number, now: number): Promise<boolean> {
    return this.h.run("extendEvent", () =>
      Number(this.h.stmt("UPDATE inbox SET lease_until = ? WHERE key = ? AND owner = ? AND finished_at IS NULL").run(now + leaseMs, key, owner).changes) === 1,
    );
  }

  releaseEvent(key: string, owner: string): Promise<boolean> {
    return this.h.run("releaseEvent", () =>
      Number(this.h.stmt("UPDATE inbox SET owner = NULL, lease_until = 0 WHERE key = ? AND owner = ? AND finished_at IS NULL").run(key, owner).changes) === 1,
    );
  }

  pruneEvents(now: number): Promise<number> {
    return this.h.run("pruneEvents", () => this.#prune(now));
  }
}
