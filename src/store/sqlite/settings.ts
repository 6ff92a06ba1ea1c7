// The SQLite backend's settings role: table `meta`, and the sealed cells of every table that
// master-key rotation walks and replaces.
import { channelSealedCells, jsonObject, SEALED_META_PREFIX, SECRET_COLUMN_PREFIX, splitTokenRowKey, sqlChannel, tokenRowKey } from "../common.ts";
import type { Sealed, SealedCell, SettingsStore } from "../types.ts";
import { BackendRole } from "../backend-role.ts";
import type { SqliteHost } from "./host.ts";

/** Sealed columns a rotation may replace: SealedCell table/column → SQL table/column/key. */
const SEALED_COLUMNS: Record<string, { table: string; column: string }> = {
  "channels.privateKey": { table: "channels", column: "private_key" },
  "channels.channelSecret": { table: "channels", column: "channel_secret" },
  "tokens.accessToken": { table: "tokens", column: "access_token" },
  "grants.secret": { table: "grants", column: "secret" },
  "meta.value": { table: "meta", column: "value" },
};

/** Meta values and sealed cells over one SQLite database. */
export class SqliteSettings extends BackendRole<SqliteHost> implements SettingsStore {
  getMeta(name: string): Promise<string | null> {
    return this.h.run("getMeta", () => (this.h.stmt("SELECT value FROM meta WHERE name = ?").get(name)?.["value"] as string | undefined) ?? null);
  }
  setMeta(name: string, value: string): Promise<void> {
    return this.h.run("setMeta", () => void this.h.stmt("INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value").run(name, value));
  }

  listSealed(): Promise<SealedCell[]> {
    return this.h.run("listSealed", () => {
      const cells: SealedCell[] = [];
      for (const r of this.h.stmt("SELECT * FROM channels ORDER BY channel_id").all()) cells.push(...channelSealedCells(sqlChannel(r)));
      for (const r of this.h.stmt("SELECT channel_id, key_id, access_token FROM tokens WHERE access_token IS NOT NULL").all()) {
        cells.push({ table: "tokens", row: tokenRowKey(r["channel_id"] as string, r["key_id"] as string), column: "accessToken", value: r["access_token"] as string });
      }
      for (const r of this.h.stmt("SELECT credential_id, secret FROM grants ORDER BY credential_id").all()) {
        cells.push({ table: "grants", row: r["credential_id"] as string, column: "secret", value: r["secret"] as string });
      }
      for (const r of this.h.stmt("SELECT name, value FROM meta WHERE substr(name, 1, ?) = ?").all(SEALED_META_PREFIX.length, SEALED_META_PREFIX)) {
        cells.push({ table: "meta", row: r["name"] as string, column: "value", value: r["value"] as string });
      }
      return cells;
    });
  }

  replaceSealed(cell: SealedCell, expected: Sealed): Promise<boolean> {
    return this.h.run("replaceSealed", () => {
      if (cell.table === "channels" && cell.column.startsWith(SECRET_COLUMN_PREFIX)) {
        const name = cell.column.slice(SECRET_COLUMN_PREFIX.length);
        return this.h.tx(() => {
          const secrets = jsonObject<Record<string, Sealed>>(this.h.stmt("SELECT secrets FROM channels WHERE channel_id = ?").get(cell.row)?.["secrets"]);
          if (secrets[name] !== expected) return false;
          secrets[name] = cell.value;
          this.h.stmt("UPDATE channels SET secrets = ? WHERE channel_id = ?").run(JSON.stringify(secrets), cell.row);
          return true;
        });
      }
      const target = SEALED_COLUMNS[`${cell.table}.${cell.column}`];
      if (!target) return false;
      let r;
      if (cell.table === "tokens") {
        const [channelId, keyId] = splitTokenRowKey(cell.row);
        r = this.h.stmt(`UPDATE tokens SET ${target.column} = ? WHERE channel_id = ? AND key_id = ? AND ${target.column} = ?`).run(cell.value, channelId, keyId, expected);
      } else {
        const key = cell.table === "channels" ? "channel_id" : cell.table === "grants" ? "credential_id" : "name";
        r = this.h.stmt(`UPDATE ${target.table} SET ${target.column} = ? WHERE ${key} = ? AND ${target.column} = ?`).run(cell.value, cell.row, expected);
      }
      return Number(r.changes) > 0;
    });
  }
}
