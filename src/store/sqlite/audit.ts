// The SQLite backend's audit role: table `audit`, ids from AUTOINCREMENT.
import { sqlAudit, sqlAuditValues } from "../common.ts";
import type { AuditRow, AuditStore } from "../types.ts";
import { BackendRole } from "../backend-role.ts";
import type { SqliteHost } from "./host.ts";

/** The append-only audit log over one SQLite database. */
export class SqliteAudit extends BackendRole<SqliteHost> implements AuditStore {
  appendAudit(row: AuditRow): Promise<void> {
    return this.h.run("appendAudit", () => {
      this.h.stmt("INSERT INTO audit (at, action, actor, channel_id, key_id, detail) VALUES (?, ?, ?, ?, ?, ?)").run(...sqlAuditValues(row));
    });
  }
  listAudit(query: { channelId?: string; limit?: number } = {}): Promise<AuditRow[]> {
    return this.h.run("listAudit", () => {
      const limit = query.limit ?? -1;
      const rows =
        query.channelId === undefined
          ? this.h.stmt("SELECT * FROM audit ORDER BY id DESC LIMIT ?").all(limit)
          : this.h.stmt("SELECT * FROM audit WHERE channel_id = ? ORDER BY id DESC LIMIT ?").all(query.channelId, limit);
      return rows.map(sqlAudit);
    });
  }
}
