// The Redis backend's audit role: rows in the `audit:rows` hash, ids in the `audit` and
// `audit:ch:<id>` lists, newest first (./layout.ts).
import type { AuditRow, AuditStore } from "../types.ts";
import * as lua from "./scripts.ts";
import { BackendRole } from "../backend-role.ts";
import type { RedisHost } from "./host.ts";

/** The append-only audit log under one key prefix. */
export class RedisAudit extends BackendRole<RedisHost> implements AuditStore {
  appendAudit(row: AuditRow): Promise<void> {
    return this.h.run("appendAudit", async () => {
      const { id: _ignored, ...rest } = row;
      const keys = [this.h.keys.k("audit:seq"), this.h.keys.k("audit:rows"), this.h.keys.k("audit")];
      if (row.channelId !== null) keys.push(this.h.keys.k(`audit:ch:${row.channelId}`));
      await lua.APPEND_AUDIT.run(this.h.client, keys, [JSON.stringify(rest)]);
    });
  }
  listAudit(query: { channelId?: string; limit?: number } = {}): Promise<AuditRow[]> {
    return this.h.run("listAudit", async () => {
      const list = query.channelId === undefined ? this.h.keys.k("audit") : this.h.keys.k(`audit:ch:${query.channelId}`);
      const stop = query.limit === undefined ? -1 : query.limit - 1;
      if (stop < -1) return [];
      const ids = await this.h.client.lrange(list, 0, stop);
      if (ids.length === 0) return [];
      const rows = await this.h.client.hmget(this.h.keys.k("audit:rows"), ...ids);
      const out: AuditRow[] = [];
      rows.forEach((json, i) => {
        if (json !== null) out.push({ id: Number(ids[i]), ...(JSON.parse(json) as Omit<AuditRow, "id">) });
      });
      return out;
    });
  }
}
