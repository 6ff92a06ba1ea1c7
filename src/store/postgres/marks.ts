// The PostgreSQL backend's once-mark role (webhook de-duplication): table `dedup`, expiry judged
// on the server's clock; marks made in the same tick go as one statement, and so does each markMany.
import { MicroBatcher } from "../batcher.ts";
import type { OnceMarkStore } from "../types.ts";
import { BackendRole } from "../backend-role.ts";
import type { PostgresHost } from "./host.ts";

/** Once-marks over one schema. */
export class PostgresMarks extends BackendRole<PostgresHost> implements OnceMarkStore {
  #markCount = 0;
  /**
   * Marks made in the same tick go to the server as one statement (under load, the marks of many
   * deliveries): one round trip instead of one per event. A batch that fails is retried key by key,
   * so one bad key (or a deadlock) fails only its own mark.
   */
  readonly #marks = new MicroBatcher<{ key: string; ttlMs: number }, boolean>({ run: (marks) => this.#writeMarks(marks) });

  markOnce(key: string, ttlMs: number): Promise<boolean> {
    return this.#marks.add({ key, ttlMs: Math.max(1, ttlMs) });
  }

  #writeMarks(batch: ReadonlyArray<{ key: string; ttlMs: number }>): Array<Promise<boolean>> {
    // One row per key (a second mark of a key in the batch is a duplicate), in key order so that
    // concurrent batches of several instances take row locks in the same order (no deadlock).
    const ttl = new Map<string, number>();
    for (const m of batch) if (!ttl.has(m.key)) ttl.set(m.key, m.ttlMs);
    const keys = [...ttl.keys()].sort();
    const query = keys.length === 1
      ? this.h.q("markOnce", this.h.sql.markOnce, [keys[0], ttl.get(keys[0]!)], "kagiya_mark_once")
      : this.h.q("markOnce", this.h.sql.markMany, [keys, keys.map((k) => ttl.get(k))], "kagiya_mark_many");
    const one = (key: string) => this.h.q("markOnce", this.h.sql.markOnce, [key, ttl.get(key)], "kagiya_mark_once").then((r) => r.rows.length === 1);
    const settled = query.then(
      (r) => {
        const fresh = new Set(r.rows.map((row) => row["key"] as string));
        return new Map(keys.map((k) => [k, Promise.resolve(fresh.has(k))]));
      },
      () => new Map(keys.map((k) => [k, one(k)])),
    );
    // A second mark of a key in this batch is a duplicate of the first.
    const first = new Set<string>();
    const results = batch.map((m) => {
      if (first.has(m.key)) return Promise.resolve(false);
      first.add(m.key);
      return settled.then((byKey) => byKey.get(m.key)!);
    });
    this.#counted(batch.length);
    return results;
  }

  async markMany(keys: readonly string[], ttlMs: number): Promise<boolean[]> {
    if (keys.length === 0) return [];
    // One statement, not through the batcher: the caller has gathered the keys already. Distinct
    // keys (a row cannot be upserted twice in one statement), sorted as in #writeMarks.
    const distinct = [...new Set(keys)].sort();
    const ttl = Math.max(1, ttlMs);
    const r = await this.h.q("markMany", this.h.sql.markMany, [distinct, distinct.map(() => ttl)], "kagiya_mark_many");
    this.#counted(keys.length);
    const fresh = new Set(r.rows.map((row) => row["key"] as string));
    // delete: true for a fresh key's first place only, so a repeat in `keys` is a duplicate.
    return keys.map((key) => fresh.delete(key));
  }

  /** Counts marks written; every 1000, expired ones are deleted. */
  #counted(marks: number): void {
    this.#markCount += marks;
    if (this.#markCount >= 1000) {
      this.#markCount = 0;
      // Housekeeping only: a failure here loses nothing and must not fail the marks. SKIP LOCKED,
      // so it never waits on (or deadlocks with) rows a batch of marks holds.
      this.h.q("markOnce cleanup", `DELETE FROM ${this.h.s}.dedup WHERE key IN (SELECT key FROM ${this.h.s}.dedup WHERE expires_at <= clock_timestamp() ORDER BY key LIMIT 10000 FOR UPDATE SKIP LOCKED)`).catch(() => {});
    }
  }

  async isMarked(key: string): Promise<boolean> {
    const r = await this.h.q("isMarked", `SELECT 1 FROM ${this.h.s}.dedup WHERE key = $1 AND expires_at > clock_timestamp()`, [key]);
    return r.rows.length === 1;
  }
}
