// The SQLite backend's once-mark role (webhook de-duplication): table `dedup`, expiry judged on
// the store's clock; marks (single or in batches) gather for a few ms and are written in one transaction.
import { MicroBatcher } from "../batcher.ts";
import type { OnceMarkStore } from "../types.ts";
import { BackendRole } from "../backend-role.ts";
import type { SqliteHost } from "./host.ts";

/** Most calls (markOnce, or markMany with its keys) written in one transaction. */
const MARK_BATCH = 1000;

/**
 * How long marks gather before their transaction: a commit costs ~20 µs of CPU and a mark ~5 µs,
 * so under load a 2 ms window (after the response, so no caller waits on it) is most of the saving.
 */
const MARK_WINDOW_MS = 2;

/** One markOnce or markMany call: its keys, written together. */
interface Marks {
  keys: readonly string[];
  ttlMs: number;
}

/** Once-marks over one SQLite database. */
export class SqliteMarks extends BackendRole<SqliteHost> implements OnceMarkStore {
  #markCount = 0;
  /**
   * Marks gather for {@link MARK_WINDOW_MS} and are written together in one transaction: a commit
   * per webhook event (with synchronous=FULL, an fsync per event) would block the event loop.
   */
  readonly #marks = new MicroBatcher<Marks, boolean[]>({ run: (groups) => this.#writeMarks(groups), windowMs: MARK_WINDOW_MS, maxBatch: MARK_BATCH });

  /** Starts the waiting batch now (before the store closes). */
  flush(): void {
    this.#marks.flush();
  }

  markOnce(key: string, ttlMs: number): Promise<boolean> {
    // Added at once (`run` calls `fn` now), unless the store is closed.
    return this.h.run("markOnce", () => this.#marks.add({ keys: [key], ttlMs })).then((fresh) => fresh[0]!);
  }

  markMany(keys: readonly string[], ttlMs: number): Promise<boolean[]> {
    // Joins the same window as markOnce: one transaction for every group written in it.
    return this.h.run("markMany", () => (keys.length === 0 ? [] : this.#marks.add({ keys, ttlMs })));
  }

  #writeMarks(groups: readonly Marks[]): boolean[][] {
    try {
      const now = this.h.now();
      // `changes` rather than RETURNING: 1 when inserted or an expired mark renewed, 0 when
      // still remembered (so also for a key's second place in one batch); no result row to build.
      const mark = this.h.stmt(
        `INSERT INTO dedup (key, expires_at) VALUES (?, ?)
         ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE dedup.expires_at <= ?`,
      );
      // No fsync for marks: a mark lost to a power cut costs at most one event handled twice, and
      // the next FULL commit (any token write) makes these frames durable as well.
      return this.h.txWithoutSync(() => {
        const out = groups.map((g) => {
          const until = now + g.ttlMs;
          this.#markCount += g.keys.length;
          return g.keys.map((key) => mark.run(key, until, now).changes === 1);
        });
        if (this.#markCount >= 1000) {
          this.#markCount = 0;
          this.h.stmt("DELETE FROM dedup WHERE expires_at <= ?").run(now);
        }
        return out;
      });
    } catch (error) {
      throw this.h.fail("markOnce", error);
    }
  }

  isMarked(key: string): Promise<boolean> {
    return this.h.run("isMarked", () => this.h.stmt("SELECT 1 FROM dedup WHERE key = ? AND expires_at > ?").get(key, this.h.now()) !== undefined);
  }
}
