// The Redis backend's credential role: `ch:<id>` hashes and the `chids` set (./layout.ts).
import type { ChannelRow, CredentialStore } from "../types.ts";
import { channelFields, toChannel } from "./codec.ts";
import * as lua from "./scripts.ts";
import { BackendRole } from "../backend-role.ts";
import type { RedisHost } from "./host.ts";

/** The credential registry under one key prefix. */
export class RedisCredentials extends BackendRole<RedisHost> implements CredentialStore {
  putChannel(row: ChannelRow): Promise<void> {
    return this.h.run("putChannel", async () => {
      const key = this.h.keys.k(`ch:${row.channelId}`);
      await this.h.client
        .multi()
        .del(key)
        .hset(key, channelFields(row))
        .sadd(this.h.keys.k("chids"), row.channelId)
        .exec();
    });
  }
  getChannel(channelId: string): Promise<ChannelRow | null> {
    return this.h.run("getChannel", async () => {
      const h = await this.h.client.hgetall(this.h.keys.k(`ch:${channelId}`));
      return h["channelId"] === undefined ? null : toChannel(h);
    });
  }
  listChannels(): Promise<ChannelRow[]> {
    return this.h.run("listChannels", async () => {
      const ids = (await this.h.client.smembers(this.h.keys.k("chids"))).sort();
      const rows = await Promise.all(ids.map((id) => this.h.client.hgetall(this.h.keys.k(`ch:${id}`))));
      return rows.filter((h) => h["channelId"] !== undefined).map(toChannel);
    });
  }
  getChannelVersions(channelIds: readonly string[]): Promise<Map<string, number>> {
    return this.h.run("getChannelVersions", async () => {
      const ids = [...new Set(channelIds)];
      const out = new Map<string, number>();
      if (ids.length === 0) return out;
      // One script call: a field per channel, never the sealed ones.
      const answers = (await lua.CHANNEL_VERSIONS.run(this.h.client, ids.map((id) => this.h.keys.k(`ch:${id}`)), [])) as string[];
      answers.forEach((v, i) => {
        if (v !== "") out.set(ids[i]!, Number(v));
      });
      return out;
    });
  }
  listChannelIds(): Promise<string[]> {
    return this.h.run("listChannelIds", async () => (await this.h.client.smembers(this.h.keys.k("chids"))).sort());
  }
  deleteChannel(channelId: string): Promise<boolean> {
    return this.h.run("deleteChannel", async () => {
      const keys = [this.h.keys.k("chids"), this.h.keys.k(`ch:${channelId}`), this.h.keys.k(`cur:${channelId}`), this.h.keys.tokIds(channelId), this.h.keys.k("tokch"), this.h.keys.intent(channelId), this.h.keys.backoff(channelId), this.h.keys.grant(channelId), this.h.keys.grantIds()];
      return (await lua.DELETE_CHANNEL.run(this.h.client, keys, [this.h.keys.tokBase(channelId), channelId])) === 1;
    });
  }
}
