// The PostgreSQL backend's inbox role (table `inbox`, migration 3). Accepts and finishes made in
// the same tick go to the server as one statement; claims take rows with FOR UPDATE SKIP LOCKED,
// so concurrent claimers never share an event.
import { MicroBatcher } from "../batcher.ts";
import { sqlNumber } from "../common.ts";
import type { InboxAccept as Accept } from "../roles/inbox.ts";
import type { InboxEvent, InboxLease, InboxStore } from "../types.ts";
import { BackendRole } from "../backend-role.ts";
import type { PostgresHost } from "./host.ts";

/** The inbox role over one schema. */
export class PostgresInbox extends BackendRole<PostgresHost> implements InboxStore {
  #accepts = 0;
  // At most two statements of each in flight: calls arriving meanwhile join the next one, so under
  // load a commit (a WAL flush at the server) carries many events instead of a few.
  readonly #accept = new MicroBatcher<Accept, boolean>({ run: (batch) => this.#writeAccepts(batch), maxInFlight: 2 });
  readonly #finish = new MicroBatcher<{ key: string; owner: string; now: number }, boolean>({ run: (batch) => this.#writeFinishes(batch), maxInFlight: 2 });

  async #writeAccepts(batch: readonly Accept[]): Promise<boolean[]> {
    // One row per key, in key order so that concurrent batches lock rows in the same order.
    const first = new Map<string, Accept>();
    for (const a of batch) if (!first.has(a.key)) first.set(a.key, a);
    const rows = [...first.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
    const r = await this.h.q(
      "acceptEvent",
      `INSERT INTO ${this.h.s}.inbox AS i (key, payload, accepted_at, expires_at, owner, lease_until, attempts)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[], $7::int[]) ORDER BY 1
       ON CONFLICT (key) DO UPDATE SET payload = EXCLUDED.payload, accepted_at = EXCLUDED.accepted_at, expires_at = EXCLUDED.expires_at,
       owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until, attempts = EXCLUDED.attempts, finished_at = NULL,
       seq = nextval(pg_get_serial_sequence('${this.h.s}.inbox', 'seq'))
       WHERE i.finished_at IS NOT NULL AND i.expires_at <= EXCLUDED.accepted_at
       RETURNING key`,
      [
        rows.map((a) => a.key), rows.map((a) => a.payload), rows.map((a) => a.now), rows.map((a) => a.now + a.ttlMs),
        rows.map((a) => a.lease?.owner ?? null), rows.map((a) => (a.lease ? a.now + a.lease.leaseMs : 0)), rows.map((a) => (a.lease ? 1 : 0)),
      ],
      "kagiya_inbox_accept",
    );
    const fresh = new Set(r.rows.map((row) => row["key"] as string));
    this.#accepts += batch.length;
    if (this.#accepts >= 1000) {
      this.#accepts = 0;
      this.pruneEvents(batch[batch.length - 1]!.now).catch(() => {}); // housekeeping only
    }
    return batch.map((a) => first.get(a.key) === a && fresh.has(a.key));
  }

  async #writeFinishes(batch: ReadonlyArray<{ key: string; owner: string; now: number }>): Promise<boolean[]> {
    const r = await this.h.q(
      "finishEvent",
      `UPDATE ${this.h.s}.inbox AS i SET finished_at = u.at, owner = NULL, lease_until = 0
       FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(key, owner, at)
       WHERE i.key = u.key AND i.owner = u.owner AND i.finished_at IS NULL RETURNING i.key`,
      [batch.map((f) => f.key), batch.map((f) => f.owner), batch.map((f) => f.now)],
      "kagiya_inbox_finish",
    );
    const done = new Set(r.rows.map((row) => row["key"] as string));
    return batch.map((f) => done.delete(f.key));
  }

  acceptEvent(key: string, payload: string, ttlMs: number, now: number, lease?: InboxLease): Promise<boolean> {
    return this.#accept.add({ key, payload, ttlMs, now, lease });
  }

  async claimEvents(owner: string, leaseMs: number, limit: number, now: number): Promise<InboxEvent[]> {
    const r = await this.h.q(
      "claimEvents",
      `UPDATE ${this.h.s}.inbox AS i SET owner = $1, lease_until = $2, attempts = i.attempts + 1
       FROM (SELECT key FROM ${this.h.s}.inbox WHERE finished_at IS NULL AND lease_until <= $3 ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED) c
       WHERE i.key = c.key RETURNING i.key, i.payload, i.attempts, i.accepted_at, i.seq`,
      [owner, now + leaseMs, now, limit],
      "kagiya_inbox_claim",
    );
    return r.rows
      .sort((a, b) => sqlNumber(a["seq"]) - sqlNumber(b["seq"]))
      .map((row) => ({ key: row["key"] as string, payload: row["payload"] as string, attempts: sqlNumber(row["attempts"]), acceptedAt: sqlNumber(row["accepted_at"]) }));
  }

  finishEvent(key: string, owner: string, now: number): Promise<boolean> {
    return this.#finish.add({ key, owner, now });
  }

  async extendEvent(key: string, owner: string, leaseMs: number, now: number): Promise<boolean> {
    const r = await this.h.q("extendEvent", `UPDATE ${this.h.s}.inbox SET lease_until = $3 WHERE key = $1 AND owner = $2 AND finished_at IS NULL`, [key, owner, now + leaseMs]);
    return r.rowCount === 1;
  }

  async releaseEvent(key: string, owner: string): Promise<boolean> {
    const r = await this.h.q("releaseEvent", `UPDATE ${this.h.s}.inbox SET owner = NULL, lease_until = 0 WHERE key = $1 AND owner = $2 AND finished_at IS NULL`, [key, owner]);
    return r.rowCount === 1;
  }

  async pruneEvents(now: number): Promise<number> {
    const r = await this.h.q(
      "pruneEvents",
      `DELETE FROM ${this.h.s}.inbox WHERE key IN (SELECT key FROM ${this.h.s}.inbox WHERE finished_at IS NOT NULL AND expires_at <= $1 LIMIT 10000 FOR UPDATE SKIP LOCKED)`,
      [now],
    );
    return r.rowCount ?? 0;
  }
}
