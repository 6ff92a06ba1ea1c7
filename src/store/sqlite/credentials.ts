// The SQLite backend's credential role: table `channels` (policy, settings and secrets as JSON text).
import { sqlChannel, sqlChannelValues } from "../common.ts";
import type { ChannelRow, CredentialStore } from "../types.ts";
import { BackendRole } from "../backend-role.ts";
import type { SqliteHost } from "./host.ts";

/** The credential registry over one SQLite database. */
export class SqliteCredentials extends BackendRole<SqliteHost> implements CredentialStore {
  putChannel(row: ChannelRow): Promise<void> {
    return this.h.run("putChannel", () => {
      this.h.stmt(
        `INSERT INTO channels (channel_id, kind, kid, private_key, channel_secret, policy, settings, secrets, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (channel_id) DO UPDATE SET kind = excluded.kind, kid = excluded.kid, private_key = excluded.private_key, channel_secret = excluded.channel_secret,
         policy = excluded.policy, settings = excluded.settings, secrets = excluded.secrets, created_at = excluded.created_at, updated_at = excluded.updated_at`,
      ).run(...sqlChannelValues(row));
    });
  }
  getChannel(channelId: string): Promise<ChannelRow | null> {
    return this.h.run("getChannel", () => {
      const r = this.h.stmt("SELECT * FROM channels WHERE channel_id = ?").get(channelId);
      return r ? sqlChannel(r) : null;
    });
  }
  listChannels(): Promise<ChannelRow[]> {
    return this.h.run("listChannels", () => this.h.stmt("SELECT * FROM channels ORDER BY channel_id").all().map(sqlChannel));
  }
  getChannelVersions(channelIds: readonly string[]): Promise<Map<string, number>> {
    return this.h.run("getChannelVersions", () => {
      const rows = this.h.stmt("SELECT channel_id, updated_at FROM channels WHERE channel_id IN (SELECT value FROM json_each(?))").all(JSON.stringify([...new Set(channelIds)]));
      return new Map(rows.map((r) => [r["channel_id"] as string, Number(r["updated_at"])]));
    });
  }
  listChannelIds(): Promise<string[]> {
    return this.h.run("listChannelIds", () => this.h.stmt("SELECT channel_id FROM channels ORDER BY channel_id").all().map((r) => r["channel_id"] as string));
  }

  /** Deletes the channel with its tokens, coordination state and grant, in one transaction. */
  deleteChannel(channelId: string): Promise<boolean> {
    return this.h.run("deleteChannel", () =>
      this.h.tx(() => {
        this.h.stmt("DELETE FROM tokens WHERE channel_id = ?").run(channelId);
        this.h.stmt("DELETE FROM current_tokens WHERE channel_id = ?").run(channelId);
        this.h.stmt("DELETE FROM issue_intents WHERE credential_id = ?").run(channelId);
        this.h.stmt("DELETE FROM backoffs WHERE credential_id = ?").run(channelId);
        this.h.stmt("DELETE FROM grants WHERE credential_id = ?").run(channelId);
        return Number(this.h.stmt("DELETE FROM channels WHERE channel_id = ?").run(channelId).changes) > 0;
      }),
    );
  }
}
