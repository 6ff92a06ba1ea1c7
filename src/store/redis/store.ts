// The Redis backend: the store's lifecycle (connecting, migrating, closing) and the client it
// shares with its role objects, one per role (./credentials.ts, ./tokens.ts, ./locks.ts,
// ./marks.ts, ./inbox.ts, ./apikeys.ts, ./audit.ts, ./settings.ts, ./coordination.ts,
// ./grants.ts); key layout in ./layout.ts, Lua in ./scripts.ts, hash codec in ./codec.ts.
import type { Redis } from "ioredis";
import { LEGACY_BACKOFF_META, LEGACY_INTENT_META, redactSpec } from "../common.ts";
import { StoreError } from "../errors.ts";
import { RoleForwarding, type StoreRoles } from "../role-forwarding.ts";
import type { Store } from "../types.ts";
import { RedisApiKeys } from "./apikeys.ts";
import { RedisAudit } from "./audit.ts";
import { connectClient } from "./client.ts";
import { RedisCoordination } from "./coordination.ts";
import { RedisCredentials } from "./credentials.ts";
import { RedisGrants, UPGRADE_LAYOUT_4 } from "./grants.ts";
import type { RedisHost } from "./host.ts";
import { RedisInbox, UPGRADE_LAYOUT_3 } from "./inbox.ts";
import { REDIS_LAYOUT_VERSION, RedisKeys } from "./layout.ts";
import { RedisLocks } from "./locks.ts";
import { RedisMarks } from "./marks.ts";
import * as lua from "./scripts.ts";
import { RedisSettings } from "./settings.ts";
import { RedisTokens } from "./tokens.ts";

export { REDIS_LAYOUT_VERSION };

/** Options of {@link RedisStore.connect}. */
export interface RedisStoreOptions {
  /**
   * `redis://` or `rediss://` URL, or `redis+sentinel://HOST:PORT[,HOST:PORT…]/MASTER[/DB]` for a
   * master found through Redis Sentinel (default `REDIS_URL`, else redis://127.0.0.1:6379).
   */
  url?: string;
  /** Prefix of every key (default `kagiya:`); tests use a random one. */
  prefix?: string;
  /** Connect timeout, ms (default 2000). */
  connectTimeoutMs?: number;
  /** Per-command timeout, ms (default 5000). */
  commandTimeoutMs?: number;
  /** For a `redis+sentinel://` URL: the sentinels' own ACL user, when they require one. */
  sentinelUsername?: string;
  /** For a `redis+sentinel://` URL: the sentinels' own password, when they require one. */
  sentinelPassword?: string;
}

/** Server answers that mean "not the writable master right now" (a failover, a replica still loading). */
const TRANSIENT = /READONLY|LOADING|MASTERDOWN|TRYAGAIN/;

/**
 * A {@link Store} on Redis (ioredis), shared by every process that uses the same server and key
 * prefix. Atomic steps (commitToken's compare-and-set on the generation, lock release by owner,
 * pruning) are Lua scripts; locks and markOnce are `SET NX PX`. Every key begins with the
 * prefix; the key layout is versioned (`<prefix>layout`) and documented in ./layout.ts. Redis Cluster is not supported (the
 * scripts touch keys they derive).
 *
 * Connecting fails fast with `ERR_STORE_UNAVAILABLE` (connect timeout, no retry on the first
 * connection); later, commands fail at once while the connection is down (no offline queue) and
 * the client reconnects in the background.
 *
 * Behind Redis Sentinel (`redis+sentinel://`), the client asks the sentinels for the master,
 * follows a failover (the sentinels' `+switch-master`, or a `READONLY` answer from a demoted master)
 * and reconnects to the new master; commands sent meanwhile fail with `ERR_STORE_UNAVAILABLE`.
 *
 * @example
 * ```ts
 * const store = await RedisStore.connect({ url: "redis://127.0.0.1:6379", prefix: "kagiya:" });
 * await store.migrate();
 * ```
 */
export class RedisStore extends RoleForwarding implements Store {
  readonly kind = "redis";
  readonly prefix: string;
  readonly client: Redis;
  readonly #where: string;
  readonly #keys: RedisKeys;
  #closing = false;
  protected readonly roles: StoreRoles;

  private constructor(client: Redis, prefix: string, where: string) {
    super();
    this.client = client;
    this.prefix = prefix;
    this.#where = where;
    this.#keys = new RedisKeys(prefix);
    const host: RedisHost = { client, keys: this.#keys, run: (what, fn) => this.#do(what, fn) };
    const grants = new RedisGrants(host);
    this.roles = {
      credentials: new RedisCredentials(host),
      tokens: new RedisTokens(host),
      locks: new RedisLocks(host),
      marks: new RedisMarks(host),
      inbox: new RedisInbox(host),
      apiKeys: new RedisApiKeys(host),
      audit: new RedisAudit(host),
      settings: new RedisSettings(host, grants),
      coordination: new RedisCoordination(host),
      grants,
    };
  }

  /** Connects (fails within the connect timeout when the server is unreachable). */
  static async connect(options: RedisStoreOptions = {}): Promise<RedisStore> {
    const url = options.url ?? process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379";
    const where = redactSpec(url);
    let store: RedisStore | undefined;
    const client = await connectClient(url, where, options, () => store !== undefined && store.#closing);
    store = new RedisStore(client, options.prefix ?? "kagiya:", where);
    return store;
  }

  async #do<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof StoreError) throw error;
      const message = String((error as Error).message);
      const down = this.client.status !== "ready" || /Connection is closed|Stream isn't writeable|timed out|ECONN|ETIMEDOUT/i.test(message) || TRANSIENT.test(message);
      throw new StoreError(
        down ? `Redis at ${this.#where} is unavailable (${what}): ${(error as Error).message.split("\n")[0]}` : `Redis store: ${what} failed: ${(error as Error).message.split("\n")[0]}`,
        { code: down ? "ERR_STORE_UNAVAILABLE" : "ERR_STORE", cause: error },
      );
    }
  }

  migrate(): Promise<void> {
    return this.#do("migrate", async () => {
      await this.client.set(this.#keys.k("layout"), String(REDIS_LAYOUT_VERSION), "NX");
      const v = Number(await this.client.get(this.#keys.k("layout")));
      if (v > REDIS_LAYOUT_VERSION) {
        throw new StoreError(`the Redis store at ${this.#where} (prefix ${this.prefix}) has key layout ${v}, newer than this kagiya (${REDIS_LAYOUT_VERSION}): upgrade kagiya`, { code: "ERR_STORE_SCHEMA" });
      }
      if (v < REDIS_LAYOUT_VERSION) {
        // Each upgrade step is one atomic script guarded by the version it starts from.
        await lua.UPGRADE_LAYOUT_2.run(this.client, [this.#keys.k("layout"), this.#keys.k("meta")], [this.prefix, "2", LEGACY_INTENT_META, LEGACY_BACKOFF_META]);
        await UPGRADE_LAYOUT_3.run(this.client, [this.#keys.k("layout")], []);
        await UPGRADE_LAYOUT_4.run(this.client, [this.#keys.k("layout")], []);
      }
    });
  }

  ping(): Promise<void> {
    return this.#do("ping", async () => void (await this.client.ping()));
  }

  async close(): Promise<void> {
    this.#closing = true;
    if (this.client.status === "end") return;
    try {
      await this.client.quit();
    } catch {
      // disconnect() below
    }
    // After quit(), also ends what quit() leaves open: behind Sentinel, the failover detector's subscriptions.
    this.client.disconnect();
  }

  /** Deletes every key under this store's prefix (tests use it to clean up). */
  destroy(): Promise<void> {
    return this.#do("destroy", async () => {
      let cursor = "0";
      do {
        const [next, keys] = await this.client.scan(cursor, "MATCH", `${this.prefix.replace(/[*?[\]\\]/g, "\\$&")}*`, "COUNT", 500);
        cursor = next;
        if (keys.length > 0) await this.client.del(...keys);
      } while (cursor !== "0");
    });
  }
}
