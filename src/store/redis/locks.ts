// The Redis backend's lock role: `lock:<name>` strings with PX expiry (judged on the server's clock).
import { newOwner } from "../common.ts";
import type { Lock, LockStore } from "../types.ts";
import * as lua from "./scripts.ts";
import { BackendRole } from "../backend-role.ts";
import type { RedisHost } from "./host.ts";

/** Advisory locks under one key prefix. */
export class RedisLocks extends BackendRole<RedisHost> implements LockStore {
  tryLock(name: string, ttlMs: number): Promise<Lock | null> {
    return this.h.run("tryLock", async () => {
      const owner = newOwner();
      const key = this.h.keys.k(`lock:${name}`);
      const ok = await this.h.client.set(key, owner, "PX", Math.max(1, Math.ceil(ttlMs)), "NX");
      if (ok !== "OK") return null;
      const release = () => this.h.run("release a lock", async () => void (await lua.RELEASE_LOCK.run(this.h.client, [key], [owner])));
      const extend = (ms: number) => this.h.run("extend a lock", async () => (await lua.EXTEND_LOCK.run(this.h.client, [key], [owner, String(Math.max(1, Math.ceil(ms)))])) === 1);
      return { name, owner, release, extend };
    });
  }
}
