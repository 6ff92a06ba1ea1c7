// The SQLite backend's API-key role: table `api_keys` (channels as JSON text).
import { sqlApiKey, sqlApiKeyValues } from "../common.ts";
import type { ApiKeyRow, ApiKeyStore } from "../types.ts";
import { BackendRole } from "../backend-role.ts";
import type { SqliteHost } from "./host.ts";

/** The broker's API keys over one SQLite database. */
export class SqliteApiKeys extends BackendRole<SqliteHost> implements ApiKeyStore {
  putApiKey(row: ApiKeyRow): Promise<void> {
    return this.h.run("putApiKey", () => {
      this.h.stmt(
        `INSERT INTO api_keys (id, name, hash, channels, created_at, revoked_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, hash = excluded.hash, channels = excluded.channels,
         created_at = excluded.created_at, revoked_at = excluded.revoked_at, last_used_at = excluded.last_used_at`,
      ).run(...sqlApiKeyValues(row));
    });
  }
  getApiKeyByHash(hash: string): Promise<ApiKeyRow | null> {
    return this.h.run("getApiKeyByHash", () => {
      const r = this.h.stmt("SELECT * FROM api_keys WHERE hash = ?").get(hash);
      return r ? sqlApiKey(r) : null;
    });
  }
  listApiKeys(): Promise<ApiKeyRow[]> {
    return this.h.run("listApiKeys", () => this.h.stmt("SELECT * FROM api_keys ORDER BY created_at, id").all().map(sqlApiKey));
  }
  revokeApiKey(id: string, at: number): Promise<boolean> {
    return this.h.run("revokeApiKey", () => Number(this.h.stmt("UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?").run(at, id).changes) > 0);
  }
  touchApiKey(id: string, at: number): Promise<void> {
    return this.h.run("touchApiKey", () => void this.h.stmt("UPDATE api_keys SET last_used_at = ? WHERE id = ?").run(at, id));
  }
}
