// The PostgreSQL backend's settings role: table `meta`, and the sealed cells of every table that
// master-key rotation walks and replaces.
import type pg from "pg";
import { channelSealedCells, SEALED_META_PREFIX, SECRET_COLUMN_PREFIX, splitTokenRowKey, sqlChannel, tokenRowKey, type SqlRow } from "../common.ts";
import type { Sealed, SealedCell, SettingsStore } from "../types.ts";
import { BackendRole } from "../backend-role.ts";
import type { PostgresHost } from "./host.ts";

/** Meta values and sealed cells over one schema. */
export class PostgresSettings extends BackendRole<PostgresHost> implements SettingsStore {
  async getMeta(name: string): Promise<string | null> {
    const r = await this.h.q("getMeta", `SELECT value FROM ${this.h.s}.meta WHERE name = $1`, [name]);
    return (r.rows[0]?.["value"] as string | undefined) ?? null;
  }
  async setMeta(name: string, value: string): Promise<void> {
    await this.h.q("setMeta", `INSERT INTO ${this.h.s}.meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`, [name, value]);
  }

  async listSealed(): Promise<SealedCell[]> {
    const S = this.h.s;
    const cells: SealedCell[] = [];
    for (const r of (await this.h.q("listSealed", `SELECT * FROM ${S}.channels ORDER BY channel_id COLLATE "C"`)).rows) cells.push(...channelSealedCells(sqlChannel(r)));
    for (const r of (await this.h.q("listSealed", `SELECT channel_id, key_id, access_token FROM ${S}.tokens WHERE access_token IS NOT NULL`)).rows) {
      cells.push({ table: "tokens", row: tokenRowKey(r["channel_id"] as string, r["key_id"] as string), column: "accessToken", value: r["access_token"] as string });
    }
    for (const r of (await this.h.q("listSealed", `SELECT credential_id, secret FROM ${S}.grants ORDER BY credential_id COLLATE "C"`)).rows) {
      cells.push({ table: "grants", row: r["credential_id"] as string, column: "secret", value: r["secret"] as string });
    }
    for (const r of (await this.h.q("listSealed", `SELECT name, value FROM ${S}.meta WHERE left(name, $1) = $2`, [SEALED_META_PREFIX.length, SEALED_META_PREFIX])).rows) {
      cells.push({ table: "meta", row: r["name"] as string, column: "value", value: r["value"] as string });
    }
    return cells;
  }

  async replaceSealed(cell: SealedCell, expected: Sealed): Promise<boolean> {
    const S = this.h.s;
    let r: pg.QueryResult<SqlRow>;
    if (cell.table === "meta" && cell.column === "value") {
      r = await this.h.q("replaceSealed", `UPDATE ${S}.meta SET value = $1 WHERE name = $2 AND value = $3`, [cell.value, cell.row, expected]);
    } else if (cell.table === "channels" && (cell.column === "privateKey" || cell.column === "channelSecret")) {
      const col = cell.column === "privateKey" ? "private_key" : "channel_secret";
      r = await this.h.q("replaceSealed", `UPDATE ${S}.channels SET ${col} = $1 WHERE channel_id = $2 AND ${col} = $3`, [cell.value, cell.row, expected]);
    } else if (cell.table === "channels" && cell.column.startsWith(SECRET_COLUMN_PREFIX)) {
      r = await this.h.q("replaceSealed", this.h.sql.replaceSecret, [cell.row, cell.column.slice(SECRET_COLUMN_PREFIX.length), cell.value, expected]);
    } else if (cell.table === "grants" && cell.column === "secret") {
      r = await this.h.q("replaceSealed", `UPDATE ${S}.grants SET secret = $1 WHERE credential_id = $2 AND secret = $3`, [cell.value, cell.row, expected]);
    } else if (cell.table === "tokens" && cell.column === "accessToken") {
      const [channelId, keyId] = splitTokenRowKey(cell.row);
      r = await this.h.q("replaceSealed", `UPDATE ${S}.tokens SET access_token = $1 WHERE channel_id = $2 AND key_id = $3 AND access_token = $4`, [cell.value, channelId, keyId, expected]);
    } else return false;
    return (r.rowCount ?? 0) > 0;
  }
}
