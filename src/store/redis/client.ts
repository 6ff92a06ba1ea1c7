// The Redis store's ioredis client: fail fast on the first connection, reconnect afterwards, and
// behind Sentinel follow the master through failovers.
import { Redis, type RedisOptions } from "ioredis";
import { StoreError } from "../errors.ts";
import { parseSentinelUrl, SENTINEL_SCHEME } from "./sentinel-url.ts";
import type { RedisStoreOptions } from "./store.ts";

/**
 * A connected client for `url` (`redis://`, `rediss://` or `redis+sentinel://`); StoreError
 * `ERR_STORE_UNAVAILABLE` within the connect timeout when it cannot connect. `closing()` is true
 * once the store is being closed (the Sentinel reconnect below then stops).
 */
export async function connectClient(url: string, where: string, options: RedisStoreOptions, closing: () => boolean): Promise<Redis> {
  let everReady = false;
  let lastError: Error | undefined;
  // Never retry the first connection (fail fast); afterwards reconnect with a capped backoff.
  const retry = (times: number): number | null => (everReady ? Math.min(100 * 2 ** Math.min(times, 5), 2_000) : null);
  const common: RedisOptions = {
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 2_000,
    commandTimeout: options.commandTimeoutMs ?? 5_000,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    retryStrategy: retry,
  };
  const sentinel = url.toLowerCase().startsWith(SENTINEL_SCHEME) ? parseSentinelUrl(url) : null;
  const client = sentinel === null
    ? new Redis(url, common)
    : new Redis({
      ...common,
      sentinels: sentinel.sentinels,
      name: sentinel.masterName,
      db: sentinel.db,
      ...(sentinel.username !== undefined ? { username: sentinel.username } : {}),
      ...(sentinel.password !== undefined ? { password: sentinel.password } : {}),
      ...(options.sentinelUsername !== undefined ? { sentinelUsername: options.sentinelUsername } : {}),
      ...(options.sentinelPassword !== undefined ? { sentinelPassword: options.sentinelPassword } : {}),
      sentinelRetryStrategy: retry,
      sentinelCommandTimeout: options.connectTimeoutMs ?? 2_000,
      // Reconnect at once on the sentinels' +switch-master, and when a demoted master refuses a write.
      failoverDetector: true,
      reconnectOnError: (e: Error) => (/^READONLY/.test(e.message) ? 1 : false),
    });
  client.on("error", (e: Error) => (lastError = e));
  client.on("ready", () => (everReady = true));
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    const e = (lastError ?? error) as Error & { code?: string };
    const auth = /NOAUTH|WRONGPASS|invalid password|invalid username/i.test(e.message);
    const hint = auth ? "check the user and password in the URL" : sentinel !== null ? `are the sentinels running, and do they monitor "${sentinel.masterName}"?` : "is the server running? check REDIS_URL";
    throw new StoreError(`cannot reach Redis at ${where}: ${auth ? e.message.split("\n")[0] : (e.code ?? e.message)} (${hint})`, { code: "ERR_STORE_UNAVAILABLE", cause: error });
  }
  if (sentinel !== null) {
    // ioredis gives up for good ("end") when its failover detector drops the connection while a
    // reconnection is under way (the master was killed, then the sentinels announce the new one):
    // connect again, until close().
    client.on("end", () => {
      if (closing()) return;
      setTimeout(() => {
        if (!closing() && client.status === "end") client.connect().catch(() => {});
      }, 500).unref();
    });
  }
  return client;
}
