/**
 * kagiya's storage: the {@link Store} contract split by role (./roles/), with memory, SQLite, Redis and PostgreSQL
 * backends, sealing of secrets at rest, the channel registry and master-key rotation.
 * Redis and PostgreSQL are loaded only when used (see ./open.ts), so importing this module never
 * loads ioredis or pg.
 *
 * @example
 * ```ts
 * import { ChannelRegistry, MemoryStore, Sealer, MasterKey, generateMasterKeyText } from "./store/index.ts";
 * const registry = await ChannelRegistry.open(new MemoryStore(), new Sealer(MasterKey.parse(generateMasterKeyText())));
 * ```
 *
 * @module
 */
export type * from "./types.ts";
export { DEFAULT_CREDENTIAL_KIND } from "./types.ts";
export { StoreError, MasterKeyError, SealedValueError, ChannelNotFoundError } from "./errors.ts";
export {
  MasterKey,
  Sealer,
  generateMasterKeyText,
  readMasterKey,
  loadMasterKey,
  sealedKeyVersion,
  sealAccessToken,
  openAccessToken,
  accessTokenContext,
  type SealContext,
  type MasterKeyVariables,
} from "./sealed.ts";
export { ChannelRegistry, verifyMasterKey, validateChannelId, validateKind, validatePolicy, type Channel, type ChannelInput, type RegistryStore } from "./registry.ts";
export { rotateMasterKey, loadSealer, type RotationOptions, type RotationReport } from "./rotate.ts";
export { MemoryStore, type MemoryStoreOptions } from "./memory.ts";
export { SEALED_META_PREFIX, MASTER_CHECK_META } from "./common.ts";
export { SqliteStore, SQLITE_SCHEMA_VERSION, type SqliteStoreOptions } from "./sqlite/store.ts";
export { openStore, parseStoreSpec, type OpenStoreOptions } from "./open.ts";
export type { RedisStore, RedisStoreOptions } from "./redis/store.ts";
export type { PostgresStore, PostgresStoreOptions } from "./postgres/store.ts";
export { MicroBatcher, type MicroBatcherOptions } from "./batcher.ts";
