// The PostgreSQL backend's lock role: table `locks`, expiry judged on the server's clock (clock_timestamp()).
import { newOwner } from "../common.ts";
import type { Lock, LockStore } from "../types.ts";
import { BackendRole } from "../backend-role.ts";
import type { PostgresHost } from "./host.ts";

/** Advisory locks over one schema. */
export class PostgresLocks extends BackendRole<PostgresHost> implements LockStore {
  async tryLock(name: string, ttlMs: number): Promise<Lock | null> {
    const owner = newOwner();
    const r = await this.h.q("tryLock", this.h.sql.tryLock, [name, owner, Math.max(1, ttlMs)], "kagiya_try_lock");
    if (r.rows[0]?.["owner"] !== owner) return null;
    const release = async () => {
      await this.h.q("release a lock", `DELETE FROM ${this.h.s}.locks WHERE name = $1 AND owner = $2`, [name, owner], "kagiya_release_lock");
    };
    const extend = async (ms: number) => {
      const u = await this.h.q("extend a lock", `UPDATE ${this.h.s}.locks SET expires_at = clock_timestamp() + $3 * interval '1 millisecond'
        WHERE name = $1 AND owner = $2 AND expires_at > clock_timestamp()`, [name, owner, Math.max(1, ms)]);
      return u.rowCount === 1;
    };
    return { name, owner, release, extend };
  }
}
