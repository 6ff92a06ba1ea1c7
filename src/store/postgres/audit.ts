// The PostgreSQL backend's audit role: table `audit`, ids from a bigserial.
import { sqlAudit, sqlAuditValues } from "../common.ts";
import type { AuditRow, AuditStore } from "../types.ts";
import { BackendRole } from "../backend-role.ts";
import type { PostgresHost } from "./host.ts";

/** The append-only audit log over one schema. */
export class PostgresAudit extends BackendRole<PostgresHost> implements AuditStore {
  async appendAudit(row: AuditRow): Promise<void> {
    await this.h.q("appendAudit", `INSERT INTO ${this.h.s}.audit (at, action, actor, channel_id, key_id, detail) VALUES ($1, $2, $3, $4, $5, $6)`, sqlAuditValues(row), "kagiya_append_audit");
  }
  async listAudit(query: { channelId?: string; limit?: number } = {}): Promise<AuditRow[]> {
    const limit = query.limit ?? null;
    const r =
      query.channelId === undefined
        ? await this.h.q("listAudit", `SELECT * FROM ${this.h.s}.audit ORDER BY id DESC LIMIT $1`, [limit])
        : await this.h.q("listAudit", `SELECT * FROM ${this.h.s}.audit WHERE channel_id = $1 ORDER BY id DESC LIMIT $2`, [query.channelId, limit]);
    return r.rows.map(sqlAudit);
  }
}
