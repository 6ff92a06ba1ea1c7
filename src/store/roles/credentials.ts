import type { Sealed } from "./sealed.ts";

/** Token policy overrides for one channel; unset fields take the documented defaults. */
export interface TokenPolicyOverrides {
  /** Lifetime asked of LINE, seconds (default 7 days, at most 30 days). */
  lifetimeSeconds?: number;
  /** Refresh point as a fraction of lifetime: a jittered value in [min, max] (default 0.70–0.80). */
  refreshMin?: number;
  refreshMax?: number;
  /** Never hand out a token with less than this left, seconds (default 300). */
  minRemainingSeconds?: number;
  /** A superseded token is revoked this long after its successor is stored, seconds (default 600). */
  revokeGraceSeconds?: number;
  /** At most this many live tokens of kagiya's own per channel (default 3). */
  maxLiveTokens?: number;
}

/** Public, non-secret per-kind configuration of a credential (the engine validates it per kind). */
export type CredentialSettings = Record<string, string | number | boolean>;

/** The kind of the rows written before kinds existed (kagiya 0.1): LINE channel access token v2.1. */
export const DEFAULT_CREDENTIAL_KIND = "line-v2.1";

/**
 * A registered credential as the store holds it (secrets sealed). Today's rows are LINE
 * channels: `channelId` is the credential's ID whatever its kind.
 */
export interface ChannelRow {
  channelId: string;
  /** Which kind of credential this is, e.g. "line-v2.1" (rows from older stores read as that). */
  kind: string;
  /** The kid LINE assigned to the registered public key. */
  kid: string;
  /** Sealed private JWK (JSON text before sealing). */
  privateKey: Sealed;
  /** Sealed channel secret. */
  channelSecret: Sealed;
  policy: TokenPolicyOverrides;
  /** Public per-kind configuration ({} when none). */
  settings: CredentialSettings;
  /**
   * Further sealed secrets a kind needs (e.g. a client secret), by name ({} when none). Each is
   * sealed with context table "channels", row = channelId, column `secrets.<name>`.
   */
  secrets: Record<string, Sealed>;
  createdAt: number;
  updatedAt: number;
}

/** The registry of credentials: rows keyed by ID, written whole. */
export interface CredentialStore {
  /** Inserts or replaces a channel. */
  putChannel(row: ChannelRow): Promise<void>;
  getChannel(channelId: string): Promise<ChannelRow | null>;
  /** Every row, by ID. */
  listChannels(): Promise<ChannelRow[]>;
  /**
   * Every channel ID, sorted (byte order): what a scheduler re-reads to see channels come and go,
   * without reading (and moving) every row's sealed secrets.
   */
  listChannelIds(): Promise<string[]>;
  /**
   * Each listed channel's updatedAt (a channel that does not exist is absent from the answer), in
   * one or a few round trips and without reading sealed columns: what a memory cache re-checks.
   */
  getChannelVersions(channelIds: readonly string[]): Promise<Map<string, number>>;
  /** Deletes the channel, its tokens, coordination state and grant; false when there was none. */
  deleteChannel(channelId: string): Promise<boolean>;
}
