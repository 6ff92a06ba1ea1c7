// The SQLite backend's audit role: table `audit`, ids from AUTOINCREMENT.
import { sqlAudit } from "../common.ts";
import type { AuditRow, AuditStore } from "../types.ts";
import type { SqliteHost } from "./host.ts";

/** The append-only audit log over one SQLite database. */
export class SqliteAudit implements AuditStore {
  readonly #h: SqliteHost;

  constructor(host: SqliteHost) {
    this.#h = host;
  }

  appendAudit(row: AuditRow): Promise<void> {
    return this.#h.run("appendAudit", () => {
      this.#h.stmt("INSERT INTO audit (at, action, actor, channel_id, key_id, detail) VALUES (?, ?, ?, ?, ?, ?)").run(
        row.at,
        row.action,
        row.actor,
        row.channelId,
        row.keyId,
        row.detail,
      );
    });
  }
  listAudit(query: { channelId?: string; limit?: number } = {}): Promise<AuditRow[]> {
    return this.#h.run("listAudit", () => {
      const limit = query.limit ?? -1;
      const rows =
        query.channelId === undefined
          ? this.#h.stmt("SELECT * FROM audit ORDER BY id DESC LIMIT ?").all(limit)
          : this.#h.stmt("SELECT * FROM audit WHERE channel_id = ? ORDER BY id DESC LIMIT ?").all(query.channelId, limit);
      return rows.map(sqlAudit);
    });
  }
}
