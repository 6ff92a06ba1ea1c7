// The SQLite backend's lock role: table `locks`, expiry judged on the store's clock (its `now` option).
import { newOwner } from "../common.ts";
import type { Lock, LockStore } from "../types.ts";
import { BackendRole } from "../backend-role.ts";
import type { SqliteHost } from "./host.ts";

/** Advisory locks over one SQLite database. */
export class SqliteLocks extends BackendRole<SqliteHost> implements LockStore {
  tryLock(name: string, ttlMs: number): Promise<Lock | null> {
    return this.h.run("tryLock", () => {
      const owner = newOwner();
      const now = this.h.now();
      const r = this.h.stmt(
        `INSERT INTO locks (name, owner, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at WHERE locks.expires_at <= ?
         RETURNING owner`,
      ).get(name, owner, now + ttlMs, now);
      if (r?.["owner"] !== owner) return null;
      const release = () => this.h.run("release a lock", () => void this.h.stmt("DELETE FROM locks WHERE name = ? AND owner = ?").run(name, owner));
      const extend = (ms: number) => this.h.run("extend a lock", () => {
        const at = this.h.now();
        return this.h.stmt("UPDATE locks SET expires_at = ? WHERE name = ? AND owner = ? AND expires_at > ?").run(at + ms, name, owner, at).changes === 1;
      });
      return { name, owner, release, extend };
    });
  }
}
