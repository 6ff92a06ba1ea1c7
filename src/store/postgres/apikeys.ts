// The PostgreSQL backend's API-key role: table `api_keys` (channels as JSON text).
import { sqlApiKey, sqlApiKeyValues } from "../common.ts";
import type { ApiKeyRow, ApiKeyStore } from "../types.ts";
import { BackendRole } from "../backend-role.ts";
import type { PostgresHost } from "./host.ts";

/** The broker's API keys over one schema. */
export class PostgresApiKeys extends BackendRole<PostgresHost> implements ApiKeyStore {
  async putApiKey(row: ApiKeyRow): Promise<void> {
    await this.h.q(
      "putApiKey",
      `INSERT INTO ${this.h.s}.api_keys (id, name, hash, channels, created_at, revoked_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, hash = EXCLUDED.hash, channels = EXCLUDED.channels,
       created_at = EXCLUDED.created_at, revoked_at = EXCLUDED.revoked_at, last_used_at = EXCLUDED.last_used_at`,
      sqlApiKeyValues(row),
    );
  }
  async getApiKeyByHash(hash: string): Promise<ApiKeyRow | null> {
    const r = await this.h.q("getApiKeyByHash", `SELECT * FROM ${this.h.s}.api_keys WHERE hash = $1`, [hash]);
    return r.rows[0] ? sqlApiKey(r.rows[0]) : null;
  }
  async listApiKeys(): Promise<ApiKeyRow[]> {
    return (await this.h.q("listApiKeys", `SELECT * FROM ${this.h.s}.api_keys ORDER BY created_at, id COLLATE "C"`)).rows.map(sqlApiKey);
  }
  async revokeApiKey(id: string, at: number): Promise<boolean> {
    return ((await this.h.q("revokeApiKey", `UPDATE ${this.h.s}.api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`, [at, id])).rowCount ?? 0) > 0;
  }
  async touchApiKey(id: string, at: number): Promise<void> {
    await this.h.q("touchApiKey", `UPDATE ${this.h.s}.api_keys SET last_used_at = $1 WHERE id = $2`, [at, id]);
  }
}
