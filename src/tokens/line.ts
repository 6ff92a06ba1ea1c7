/**
 * The real {@link LineTokenApi}: kagiya's LINE client, one attempt per call (the manager backs off
 * on its own clock, so a get() never sleeps through a retry), with the channel's assertion key
 * imported once per channel version.
 */
import { LineHttp } from "../clients/line/http.ts";
import { resolveLineConfig, type LineClientOptions } from "../clients/line/options.ts";
import { issueChannelToken, issueStatelessToken, listValidKeyIds, revokeChannelToken } from "../clients/line/tokens.ts";
import { importAssertionKey, type AssertionKey } from "../core/keys/import.ts";
import type { Channel } from "../store/registry.ts";
import type { IssuedToken, LineStatelessApi, LineTokenApi } from "./upstream.ts";

/** Options of {@link lineTokenApi}: the LINE client's, with one attempt per call unless `retry` says otherwise. */
export type LineTokenApiOptions = LineClientOptions;

/**
 * Builds the LINE token endpoints the credential kinds call (v2.1 and stateless). The base URL comes from `baseUrl`, else
 * `KAGIYA_LINE_API_BASE`, else https://api.line.me.
 *
 * @example
 * ```ts
 * const line = lineTokenApi({ baseUrl: "http://127.0.0.1:8787", now: clock });
 * const manager = new TokenManager({ registry, line, now: clock });
 * ```
 */
export function lineTokenApi(options: LineTokenApiOptions = {}): LineTokenApi & LineStatelessApi {
  const http = new LineHttp(resolveLineConfig({ ...options, retry: { maxAttempts: 1, ...options.retry } }));
  const keys = new WeakMap<Channel, Promise<AssertionKey>>();
  const keyOf = (channel: Channel): Promise<AssertionKey> => {
    let k = keys.get(channel);
    if (k === undefined) {
      k = importAssertionKey(channel.privateKey as Record<string, unknown>);
      keys.set(channel, k);
    }
    return k;
  };
  return {
    async issue(channel: Channel, lifetimeSeconds: number): Promise<IssuedToken> {
      const privateKey = await keyOf(channel);
      const t = await issueChannelToken(http, { channelId: channel.channelId, kid: channel.kid, privateKey }, { tokenExpSeconds: lifetimeSeconds });
      return { accessToken: t.access_token, keyId: t.key_id, expiresIn: t.expires_in };
    },
    async revoke(channel: Channel, accessToken: string): Promise<void> {
      await revokeChannelToken(http, { channelId: channel.channelId, channelSecret: channel.channelSecret, accessToken });
    },
    async validKeyIds(channel: Channel): Promise<string[]> {
      const privateKey = await keyOf(channel);
      return (await listValidKeyIds(http, { channelId: channel.channelId, kid: channel.kid, privateKey })).kids;
    },
    async issueStateless(channel: Channel, by: "assertion" | "secret") {
      const creds = by === "secret"
        ? { channelId: channel.channelId, channelSecret: channel.channelSecret }
        : { channelId: channel.channelId, kid: channel.kid, privateKey: await keyOf(channel) };
      const t = await issueStatelessToken(http, creds);
      return { accessToken: t.access_token, expiresIn: t.expires_in };
    },
  };
}
