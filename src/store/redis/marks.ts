// The Redis backend's once-mark role (webhook de-duplication): `once:<key>` strings with PX expiry.
import type { OnceMarkStore } from "../types.ts";
import { BackendRole } from "../backend-role.ts";
import type { RedisHost } from "./host.ts";

/** Once-marks under one key prefix. */
export class RedisMarks extends BackendRole<RedisHost> implements OnceMarkStore {
  markOnce(key: string, ttlMs: number): Promise<boolean> {
    return this.h.run("markOnce", async () => (await this.h.client.set(this.h.keys.k(`once:${key}`), "1", "PX", Math.max(1, Math.ceil(ttlMs)), "NX")) === "OK");
  }

  isMarked(key: string): Promise<boolean> {
    return this.h.run("isMarked", async () => (await this.h.client.exists(this.h.keys.k(`once:${key}`))) === 1);
  }
}
