// The SQLite backend's token role: tables `tokens` (one row per access token) and
// `current_tokens` (each channel's generation and current key ID), written in one transaction.
import { byIssuedDesc, sqlToken, sqlTokenValues } from "../common.ts";
import type { CredentialTokens, CurrentToken, TokenRow, TokenState, TokenStore } from "../types.ts";
import { BackendRole } from "../backend-role.ts";
import type { SqliteHost } from "./host.ts";

/** Token rows with generation fencing over one SQLite database. */
export class SqliteTokens extends BackendRole<SqliteHost> implements TokenStore {
  getCurrent(channelId: string): Promise<CurrentToken> {
    return this.h.run("getCurrent", () => {
      const r = this.h.stmt(
        `SELECT c.generation AS current_generation, t.* FROM current_tokens c
         LEFT JOIN tokens t ON t.channel_id = c.channel_id AND t.key_id = c.key_id WHERE c.channel_id = ?`,
      ).get(channelId);
      if (!r) return { generation: 0, token: null };
      return { generation: r["current_generation"] as number, token: r["key_id"] == null ? null : sqlToken(r) };
    });
  }

  commitToken(channelId: string, expectedGeneration: number, token: TokenRow, supersededRevokeAt: number): Promise<boolean> {
    return this.h.run("commitToken", () =>
      this.h.tx(() => {
        const cur = this.h.stmt("SELECT generation, key_id FROM current_tokens WHERE channel_id = ?").get(channelId);
        if (((cur?.["generation"] as number | undefined) ?? 0) !== expectedGeneration) return false;
        const prev = cur?.["key_id"] as string | null | undefined;
        if (prev != null && prev !== token.keyId) {
          this.h.stmt("UPDATE tokens SET state = 'superseded', revoke_at = ?, updated_at = ? WHERE channel_id = ? AND key_id = ? AND state = 'valid'").run(
            supersededRevokeAt,
            token.updatedAt,
            channelId,
            prev,
          );
        }
        const generation = expectedGeneration + 1;
        this.#putToken({ ...token, channelId, generation });
        this.h.stmt(
          "INSERT INTO current_tokens (channel_id, generation, key_id) VALUES (?, ?, ?) ON CONFLICT (channel_id) DO UPDATE SET generation = excluded.generation, key_id = excluded.key_id",
        ).run(channelId, generation, token.keyId);
        return true;
      }),
    );
  }

  #putToken(t: TokenRow): void {
    this.h.stmt(
      `INSERT OR REPLACE INTO tokens (channel_id, key_id, access_token, generation, state, issued_at, expires_at, refresh_at, revoke_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(...sqlTokenValues(t));
  }

  putToken(token: TokenRow): Promise<void> {
    return this.h.run("putToken", () => this.#putToken(token));
  }
  listTokens(channelId: string): Promise<TokenRow[]> {
    return this.h.run("listTokens", () => this.h.stmt("SELECT * FROM tokens WHERE channel_id = ?").all(channelId).map(sqlToken).sort(byIssuedDesc));
  }
  listTokensMany(channelIds: readonly string[]): Promise<Map<string, CredentialTokens>> {
    return this.h.run("listTokensMany", () => {
      const out = new Map<string, CredentialTokens>();
      for (const id of channelIds) out.set(id, { generation: 0, token: null, rows: [] });
      // One statement per kind of row for the whole list (a JSON array parameter), not two per channel.
      const ids = JSON.stringify([...out.keys()]);
      const pointers = new Map<string, string | null>();
      for (const r of this.h.stmt("SELECT channel_id, generation, key_id FROM current_tokens WHERE channel_id IN (SELECT value FROM json_each(?))").all(ids)) {
        out.get(r["channel_id"] as string)!.generation = r["generation"] as number;
        pointers.set(r["channel_id"] as string, (r["key_id"] as string | null) ?? null);
      }
      for (const r of this.h.stmt("SELECT * FROM tokens WHERE channel_id IN (SELECT value FROM json_each(?))").all(ids)) {
        const row = sqlToken(r);
        const entry = out.get(row.channelId)!;
        entry.rows.push(row);
        if (pointers.get(row.channelId) === row.keyId) entry.token = { ...row };
      }
      for (const entry of out.values()) entry.rows.sort(byIssuedDesc);
      return out;
    });
  }
  setTokenState(channelId: string, keyId: string, state: TokenState, revokeAt?: number | null, at?: number): Promise<boolean> {
    return this.h.run("setTokenState", () => {
      const updatedAt = at ?? Date.now();
      const r =
        revokeAt === undefined
          ? this.h.stmt("UPDATE tokens SET state = ?, updated_at = ? WHERE channel_id = ? AND key_id = ?").run(state, updatedAt, channelId, keyId)
          : this.h.stmt("UPDATE tokens SET state = ?, revoke_at = ?, updated_at = ? WHERE channel_id = ? AND key_id = ?").run(state, revokeAt, updatedAt, channelId, keyId);
      return Number(r.changes) > 0;
    });
  }
  pruneTokens(channelId: string, before: number): Promise<number> {
    return this.h.run("pruneTokens", () => Number(this.h.stmt("DELETE FROM tokens WHERE channel_id = ? AND expires_at < ?").run(channelId, before).changes));
  }
}
