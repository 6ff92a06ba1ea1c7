/**
 * kagiya's storage: the {@link Store} contract split by role (./roles/), with memory, SQLite, Redis and PostgreSQL
 * backends, sealing of secrets at rest, the channel registry and master-key rotation.
 * Redis and PostgreSQL are loaded only when used (see ./open.ts), so importing this module never
 * loads ioredis or pg; their classes are in `kagiya/store/redis` and `kagiya/store/postgres`.
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
export { grantContext, openGrant, sealGrant, type GrantSecret } from "./grants.ts";
export { ChannelRegistry, verifyMasterKey, type Channel, type ChannelInput, type RegistryStore } from "./registry.ts";
export { isLineChannelKind, validateChannelId, validateCredentialId, validateKind, validatePolicy } from "./credential-input.ts";
export { rotateMasterKey, loadSealer, type RotationOptions, type RotationReport } from "./rotate.ts";
export { MemoryStore, type MemoryStoreOptions } from "./memory.ts";
export { SqliteStore, SQLITE_SCHEMA_VERSION, type SqliteStoreOptions } from "./sqlite/store.ts";
export { openStore, parseStoreSpec, type OpenStoreOptions, type RedisOpenOptions, type PostgresOpenOptions } from "./open.ts";
export { MicroBatcher, type MicroBatcherOptions } from "./batcher.ts";
// RedisStore and PostgresStore have entries of their own (kagiya/store/redis, kagiya/store/postgres):
// their declarations need the optional ioredis and pg packages.
