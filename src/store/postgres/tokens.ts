// The PostgreSQL backend's token role: tables `tokens` and `current_tokens`; commitToken is one
// transaction that locks the channel's generation row, and getCurrent reads are batched.
import { MicroBatcher } from "../batcher.ts";
import { byIssuedDesc, sqlNumber, sqlToken, sqlTokenValues } from "../common.ts";
import type { CredentialTokens, CurrentToken, TokenRow, TokenState, TokenStore } from "../types.ts";
import { BackendRole } from "../backend-role.ts";
import type { PostgresHost } from "./host.ts";

/** Token rows with generation fencing over one schema. */
export class PostgresTokens extends BackendRole<PostgresHost> implements TokenStore {
  /**
   * Reads are batched: calls that arrive while `readBatches` batches are already in flight wait
   * for the next batch, which is one query for all their channels. Every batch is sent after
   * each of its callers called, so a read never returns data older than the call.
   */
  readonly #reads: MicroBatcher<string, CurrentToken>;

  constructor(host: PostgresHost, readBatches: number) {
    super(host);
    this.#reads = new MicroBatcher({ run: (ids) => this.#readCurrent(ids), maxInFlight: readBatches });
  }

  getCurrent(channelId: string): Promise<CurrentToken> {
    return this.#reads.add(channelId);
  }

  async #readCurrent(ids: readonly string[]): Promise<CurrentToken[]> {
    const unique = [...new Set(ids)];
    const r =
      unique.length === 1
        ? await this.h.q("getCurrent", this.h.sql.getCurrent, unique, "kagiya_get_current")
        : await this.h.q("getCurrent", this.h.sql.getCurrentMany, [unique], "kagiya_get_current_many");
    const found = new Map<string, CurrentToken>();
    for (const row of r.rows) {
      found.set(row["current_channel_id"] as string, { generation: sqlNumber(row["current_generation"]), token: row["key_id"] == null ? null : sqlToken(row) });
    }
    // Each caller gets its own copy.
    return ids.map((id) => {
      const cur = found.get(id);
      return cur ? { generation: cur.generation, token: cur.token && { ...cur.token } } : { generation: 0, token: null };
    });
  }

  commitToken(channelId: string, expectedGeneration: number, token: TokenRow, supersededRevokeAt: number): Promise<boolean> {
    const S = this.h.s;
    return this.h.tx("commitToken", async (c) => {
      await c.query({ name: "kagiya_commit_pointer", text: `INSERT INTO ${S}.current_tokens (channel_id, generation, key_id) VALUES ($1, 0, NULL) ON CONFLICT (channel_id) DO NOTHING`, values: [channelId] });
      const cur = (await c.query({ name: "kagiya_commit_lock", text: `SELECT generation, key_id FROM ${S}.current_tokens WHERE channel_id = $1 FOR UPDATE`, values: [channelId] })).rows[0];
      if (sqlNumber(cur?.["generation"] ?? 0) !== expectedGeneration) return false;
      const prev = cur?.["key_id"] as string | null;
      if (prev !== null && prev !== token.keyId) {
        await c.query({
          name: "kagiya_commit_supersede",
          text: `UPDATE ${S}.tokens SET state = 'superseded', revoke_at = $1, updated_at = $2 WHERE channel_id = $3 AND key_id = $4 AND state = 'valid'`,
          values: [supersededRevokeAt, token.updatedAt, channelId, prev],
        });
      }
      const generation = expectedGeneration + 1;
      await c.query({ name: "kagiya_put_token", text: this.h.sql.putToken, values: sqlTokenValues({ ...token, channelId, generation }) });
      await c.query({ name: "kagiya_commit_advance", text: `UPDATE ${S}.current_tokens SET generation = $1, key_id = $2 WHERE channel_id = $3`, values: [generation, token.keyId, channelId] });
      return true;
    });
  }

  async putToken(t: TokenRow): Promise<void> {
    await this.h.q("putToken", this.h.sql.putToken, sqlTokenValues(t), "kagiya_put_token");
  }
  async listTokens(channelId: string): Promise<TokenRow[]> {
    return (await this.h.q("listTokens", `SELECT * FROM ${this.h.s}.tokens WHERE channel_id = $1`, [channelId], "kagiya_list_tokens")).rows.map(sqlToken).sort(byIssuedDesc);
  }
  async listTokensMany(channelIds: readonly string[]): Promise<Map<string, CredentialTokens>> {
    const out = new Map<string, CredentialTokens>();
    for (const id of channelIds) out.set(id, { generation: 0, token: null, rows: [] });
    const ids = [...out.keys()];
    // One statement per thousand channels (pointers and rows in one snapshot), not two per channel.
    for (let i = 0; i < ids.length; i += 1000) {
      const r = await this.h.q("listTokensMany", this.h.sql.listTokensMany, [ids.slice(i, i + 1000)], "kagiya_list_tokens_many");
      for (const row of r.rows) {
        const entry = out.get(row["req_channel_id"] as string)!;
        if (row["cur_generation"] != null) entry.generation = sqlNumber(row["cur_generation"]);
        if (row["key_id"] == null) continue;
        const token = sqlToken(row);
        entry.rows.push(token);
        if (row["cur_key_id"] === token.keyId) entry.token = { ...token };
      }
    }
    for (const entry of out.values()) entry.rows.sort(byIssuedDesc);
    return out;
  }
  async setTokenState(channelId: string, keyId: string, state: TokenState, revokeAt?: number | null, at?: number): Promise<boolean> {
    const updatedAt = at ?? Date.now();
    const r =
      revokeAt === undefined
        ? await this.h.q("setTokenState", `UPDATE ${this.h.s}.tokens SET state = $1, updated_at = $2 WHERE channel_id = $3 AND key_id = $4`, [state, updatedAt, channelId, keyId], "kagiya_set_token_state")
        : await this.h.q("setTokenState", `UPDATE ${this.h.s}.tokens SET state = $1, revoke_at = $2, updated_at = $3 WHERE channel_id = $4 AND key_id = $5`, [
            state,
            revokeAt,
            updatedAt,
            channelId,
            keyId,
          ], "kagiya_set_token_state_revoke_at");
    return (r.rowCount ?? 0) > 0;
  }
  async pruneTokens(channelId: string, before: number): Promise<number> {
    return (await this.h.q("pruneTokens", `DELETE FROM ${this.h.s}.tokens WHERE channel_id = $1 AND expires_at < $2`, [channelId, before], "kagiya_prune_tokens")).rowCount ?? 0;
  }
}
