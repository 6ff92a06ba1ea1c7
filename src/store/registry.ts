/**
 * The channel registry: channels with their secrets in plaintext on the way in and out, sealed
 * in the store. Also checks, once per store, that the master key is the one the store was
 * sealed with (a sealed check value in meta), so a wrong key fails with
 * `ERR_MASTER_KEY_MISMATCH` instead of producing garbage.
 *
 * @module
 */
import type { Jwk, RsaPrivateJwk } from "../core/keys/types.ts";
import { InvalidInputError } from "../core/errors.ts";
import { MASTER_CHECK_META, SECRET_COLUMN_PREFIX } from "./common.ts";
import { ChannelNotFoundError, MasterKeyError, SealedValueError } from "./errors.ts";
import { openGrant, sealGrant, type GrantSecret } from "./grants.ts";
import { openAccessToken, sealAccessToken, type Sealer } from "./sealed.ts";
import { validateCredentialInput, validateCredentialId, validatePolicy, validateSecrets, validateSettings } from "./credential-input.ts";
import { DEFAULT_CREDENTIAL_KIND, type ChannelRow, type CredentialSettings, type CredentialStore, type Sealed, type SettingsStore, type Store, type StoreLifecycle, type TokenPolicyOverrides, type TokenRow } from "./types.ts";

/** The slice of the store the registry uses. */
export type RegistryStore = CredentialStore & Pick<SettingsStore, "getMeta" | "setMeta"> & Pick<StoreLifecycle, "kind">;

/**
 * A channel (a credential of some kind) with its secrets open. `privateKey`, `channelSecret` and
 * every value of `secrets` are secrets: never log them.
 */
export interface Channel {
  /** LINE channel ID (digits) for LINE's kinds, else a credential ID (see {@link validateCredentialId}). */
  channelId: string;
  /** The credential kind, e.g. "line-v2.1" (the default). */
  kind: string;
  /** The kid LINE assigned to the registered public key ("" for kinds that sign without one). */
  kid: string;
  /** The assertion signing key as a private JWK. */
  privateKey: Jwk;
  channelSecret: string;
  policy: TokenPolicyOverrides;
  /** Public per-kind configuration ({} when none). */
  settings: CredentialSettings;
  /** Further secrets the kind needs, open, by name ({} when none). */
  secrets: Record<string, string>;
  createdAt: number;
  updatedAt: number;
}

/** What {@link ChannelRegistry.add} takes. */
export interface ChannelInput {
  channelId: string;
  /** Credential kind (default "line-v2.1"): lowercase letters, digits, "." and "-", at most 32. */
  kind?: string;
  /** Non-empty for LINE's kinds; "" allowed for others. */
  kid: string;
  privateKey: Jwk | RsaPrivateJwk;
  /** Non-empty for LINE's kinds; "" allowed for others (which keep theirs in `secrets`). */
  channelSecret: string;
  policy?: TokenPolicyOverrides;
  /** Public per-kind configuration; the engine validates it for the kind. */
  settings?: CredentialSettings;
  /** Further secrets by name (letters, digits, "_", "-", "."; at most 64), sealed at rest. */
  secrets?: Record<string, string>;
}

const CHECK_PLAINTEXT = "kagiya master key check v1";

/**
 * Checks that `sealer` holds the master key this store was sealed with. The first call on a
 * fresh store writes a sealed check value to meta (`sealed.master_check`); later calls open it.
 * Throws {@link MasterKeyError} `ERR_MASTER_KEY_MISMATCH` for another key,
 * {@link SealedValueError} when the check value itself was altered.
 *
 * @example
 * ```ts
 * await verifyMasterKey(store, new Sealer(loadMasterKey(process.env)));
 * ```
 */
export async function verifyMasterKey(store: Pick<SettingsStore, "getMeta" | "setMeta"> & Pick<StoreLifecycle, "kind">, sealer: Sealer): Promise<void> {
  const ctx = { table: "meta", row: MASTER_CHECK_META, column: "value" } as const;
  const check = await store.getMeta(MASTER_CHECK_META);
  if (check === null) {
    await store.setMeta(MASTER_CHECK_META, sealer.seal(CHECK_PLAINTEXT, ctx));
    return;
  }
  let text: string;
  try {
    text = sealer.open(check, ctx);
  } catch (error) {
    if (error instanceof MasterKeyError) {
      throw new MasterKeyError(
        "ERR_MASTER_KEY_MISMATCH",
        `the master key (version ${sealer.version}) is not the one this ${store.kind} store was sealed with: set KAGIYA_MASTER_KEY (or KAGIYA_MASTER_KEY_FILE) to the store's key, or finish a rotation with kagiya keys rotate-master`,
        { cause: error },
      );
    }
    throw error;
  }
  if (text !== CHECK_PLAINTEXT) throw new SealedValueError("the master key check value in meta is not kagiya's (restore the store from a backup)");
}

/**
 * Channels with sealing on write and opening on read. Create with {@link ChannelRegistry.open},
 * which verifies the master key first.
 *
 * @example
 * ```ts
 * const store = await openStore();                       // sqlite ./kagiya.db by default
 * const registry = await ChannelRegistry.open(store, new Sealer(loadMasterKey(process.env)));
 * await registry.add({ channelId: "1234567890", kid, privateKey: jwk, channelSecret });
 * const ch = await registry.require("1234567890");       // ch.privateKey is the Jwk again
 * ```
 */
export class ChannelRegistry<S extends RegistryStore = Store> {
  /** The store it was opened on (its type is the caller's: a full Store by default). */
  readonly store: S;
  readonly sealer: Sealer;
  readonly #now: () => number;

  /** Prefer {@link ChannelRegistry.open}, which also verifies the master key. */
  constructor(store: S, sealer: Sealer, options: { now?: () => number } = {}) {
    this.store = store;
    this.sealer = sealer;
    this.#now = options.now ?? Date.now;
  }

  /** A registry over `store` after {@link verifyMasterKey}. */
  static async open<S extends RegistryStore>(store: S, sealer: Sealer, options: { now?: () => number } = {}): Promise<ChannelRegistry<S>> {
    await verifyMasterKey(store, sealer);
    return new ChannelRegistry<S>(store, sealer, options);
  }

  /**
   * Registers a channel. Refuses an existing channel ID with InvalidInputError
   * (`ERR_CHANNEL_EXISTS`) unless `replace` is set; replacing keeps its tokens and createdAt.
   */
  async add(input: ChannelInput, options: { replace?: boolean } = {}): Promise<Channel> {
    validateCredentialInput(input);
    const policy = validatePolicy(input.policy);
    const settings = validateSettings(input.settings);
    const secrets = validateSecrets(input.secrets);
    const existing = await this.store.getChannel(input.channelId);
    if (existing && !options.replace) {
      throw new InvalidInputError(`channel ${input.channelId} is already registered (remove it first, or replace it)`, {
        code: "ERR_CHANNEL_EXISTS",
        field: "channelId",
      });
    }
    const now = this.#now();
    const sealedSecrets: Record<string, Sealed> = {};
    for (const [name, value] of Object.entries(secrets)) sealedSecrets[name] = this.sealer.seal(value, secretContext(input.channelId, name));
    const row: ChannelRow = {
      channelId: input.channelId,
      kind: input.kind ?? DEFAULT_CREDENTIAL_KIND,
      kid: input.kid,
      privateKey: this.sealer.seal(JSON.stringify(input.privateKey), { table: "channels", row: input.channelId, column: "privateKey" }),
      channelSecret: this.sealer.seal(input.channelSecret, { table: "channels", row: input.channelId, column: "channelSecret" }),
      policy,
      settings,
      secrets: sealedSecrets,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
    await this.store.putChannel(row);
    return this.#openRow(row);
  }

  /** Replaces a channel's policy overrides; throws {@link ChannelNotFoundError} when absent. */
  async setPolicy(channelId: string, policy: TokenPolicyOverrides): Promise<void> {
    validateCredentialId(channelId);
    const clean = validatePolicy(policy);
    const row = await this.store.getChannel(channelId);
    if (!row) throw new ChannelNotFoundError(channelId);
    await this.store.putChannel({ ...row, policy: clean, updatedAt: this.#now() });
  }

  /** The channel with secrets open, or null. Throws for a malformed ID or a row that does not open. */
  async get(channelId: string): Promise<Channel | null> {
    validateCredentialId(channelId);
    const row = await this.store.getChannel(channelId);
    return row ? this.#openRow(row) : null;
  }

  /** Like {@link get} but throws {@link ChannelNotFoundError} when absent. */
  async require(channelId: string): Promise<Channel> {
    const ch = await this.get(channelId);
    if (!ch) throw new ChannelNotFoundError(channelId);
    return ch;
  }

  /** Every channel with secrets open, by channel ID. */
  async list(): Promise<Channel[]> {
    return (await this.store.listChannels()).map((r) => this.#openRow(r));
  }

  /** Every channel without opening secrets (for listings that never show them). */
  async listRows(): Promise<ChannelRow[]> {
    return this.store.listChannels();
  }

  /** Removes the channel and its token rows; false when there was none. */
  async remove(channelId: string): Promise<boolean> {
    validateCredentialId(channelId);
    return this.store.deleteChannel(channelId);
  }

  /** Seals an access token for the row (channelId, keyId). */
  sealAccessToken(channelId: string, keyId: string, accessToken: string): Sealed {
    return sealAccessToken(this.sealer, channelId, keyId, accessToken);
  }

  /** Opens a token row's access token. */
  openAccessToken(row: Pick<TokenRow, "channelId" | "keyId" | "accessToken">): string {
    return openAccessToken(this.sealer, row);
  }

  /** Seals a credential's grant (see ./grants.ts). */
  sealGrant(credentialId: string, grant: GrantSecret): Sealed {
    return sealGrant(this.sealer, credentialId, grant);
  }

  /** Opens a stored grant. */
  openGrant(state: { credentialId: string; secret: Sealed }): GrantSecret {
    return openGrant(this.sealer, state);
  }

  #openRow(row: ChannelRow): Channel {
    const pk = this.sealer.open(row.privateKey, { table: "channels", row: row.channelId, column: "privateKey" });
    let privateKey: Jwk;
    try {
      privateKey = JSON.parse(pk) as Jwk;
    } catch {
      throw new SealedValueError(`the private key of channel ${row.channelId} is not a JWK (restore it from a backup or add the channel again)`);
    }
    const secrets: Record<string, string> = {};
    for (const [name, value] of Object.entries(row.secrets ?? {})) secrets[name] = this.sealer.open(value, secretContext(row.channelId, name));
    return {
      channelId: row.channelId,
      kind: row.kind ?? DEFAULT_CREDENTIAL_KIND,
      kid: row.kid,
      privateKey,
      channelSecret: this.sealer.open(row.channelSecret, { table: "channels", row: row.channelId, column: "channelSecret" }),
      policy: { ...row.policy },
      settings: { ...row.settings },
      secrets,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    };
  }
}

/** Where a further secret of a channel is sealed: table "channels", row = ID, column `secrets.<name>`. */
function secretContext(channelId: string, name: string) {
  return { table: "channels", row: channelId, column: SECRET_COLUMN_PREFIX + name } as const;
}
