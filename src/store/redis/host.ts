// What the Redis store's role objects (./credentials.ts, ./tokens.ts, …) need of the store.
import type { Redis } from "ioredis";
import type { RedisKeys } from "./layout.ts";

/** The store's client, key names and failure mapping, as its roles use them. */
export interface RedisHost {
  client: Redis;
  keys: RedisKeys;
  /** Runs `fn`, turning a failure into the store's StoreError (ERR_STORE_UNAVAILABLE while the server is out of reach). */
  run<T>(what: string, fn: () => Promise<T>): Promise<T>;
}
