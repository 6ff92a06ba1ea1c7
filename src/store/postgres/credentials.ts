// The PostgreSQL backend's credential role: table `channels` (policy, settings and secrets as JSON text).
import { sqlChannel, sqlChannelValues, sqlNumber } from "../common.ts";
import type { ChannelRow, CredentialStore } from "../types.ts";
import { BackendRole } from "../backend-role.ts";
import type { PostgresHost } from "./host.ts";

/** The credential registry over one schema. */
export class PostgresCredentials extends BackendRole<PostgresHost> implements CredentialStore {
  async putChannel(row: ChannelRow): Promise<void> {
    await this.h.q("putChannel", this.h.sql.putChannel, sqlChannelValues(row));
  }
  async getChannel(channelId: string): Promise<ChannelRow | null> {
    const r = await this.h.q("getChannel", `SELECT * FROM ${this.h.s}.channels WHERE channel_id = $1`, [channelId], "kagiya_get_channel");
    return r.rows[0] ? sqlChannel(r.rows[0]) : null;
  }
  async listChannels(): Promise<ChannelRow[]> {
    return (await this.h.q("listChannels", `SELECT * FROM ${this.h.s}.channels ORDER BY channel_id COLLATE "C"`)).rows.map(sqlChannel);
  }
  async getChannelVersions(channelIds: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const ids = [...new Set(channelIds)];
    for (let i = 0; i < ids.length; i += 1000) {
      const r = await this.h.q("getChannelVersions", `SELECT channel_id, updated_at FROM ${this.h.s}.channels WHERE channel_id = ANY($1::text[])`, [ids.slice(i, i + 1000)], "kagiya_channel_versions");
      for (const row of r.rows) out.set(row["channel_id"] as string, sqlNumber(row["updated_at"]));
    }
    return out;
  }
  async listChannelIds(): Promise<string[]> {
    return (await this.h.q("listChannelIds", `SELECT channel_id FROM ${this.h.s}.channels ORDER BY channel_id COLLATE "C"`)).rows.map((r) => r["channel_id"] as string);
  }

  /** Deletes the channel with its tokens, coordination state and grant, in one statement. */
  async deleteChannel(channelId: string): Promise<boolean> {
    const S = this.h.s;
    const r = await this.h.q(
      "deleteChannel",
      `WITH t AS (DELETE FROM ${S}.tokens WHERE channel_id = $1), c AS (DELETE FROM ${S}.current_tokens WHERE channel_id = $1),
       i AS (DELETE FROM ${S}.issue_intents WHERE credential_id = $1), b AS (DELETE FROM ${S}.backoffs WHERE credential_id = $1),
       g AS (DELETE FROM ${S}.grants WHERE credential_id = $1)
       DELETE FROM ${S}.channels WHERE channel_id = $1`,
      [channelId],
    );
    return (r.rowCount ?? 0) > 0;
  }
}
