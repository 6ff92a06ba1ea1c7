import type { Sealed } from "./sealed.ts";

/**
 * State of one access token kagiya knows of.
 * - valid: usable until expiresAt;
 * - superseded: a newer token is current; revoked once revokeAt passes;
 * - revoked: revoked by kagiya or no longer listed by LINE;
 * - orphan: a key_id LINE lists that kagiya never stored (no token text); counts against the budget.
 */
export type TokenState = "valid" | "superseded" | "revoked" | "orphan";

/** One access token (or orphan key ID) of a channel. Keyed by (channelId, keyId). */
export interface TokenRow {
  channelId: string;
  /** LINE's key_id for this token: what revocation and reconciliation speak in. */
  keyId: string;
  /** Sealed access token; null for orphans. */
  accessToken: Sealed | null;
  /** The channel generation this token was written under (see {@link TokenStore.commitToken}). */
  generation: number;
  state: TokenState;
  issuedAt: number;
  /** When LINE says it expires (orphans: an upper bound, first seen + 30 days). */
  expiresAt: number;
  /** When kagiya plans to replace it (jittered). */
  refreshAt: number;
  /** For superseded tokens: when to revoke. */
  revokeAt: number | null;
  updatedAt: number;
}

/** A channel's current generation and the token written under it, if any. */
export interface CurrentToken {
  generation: number;
  token: TokenRow | null;
}

/** One credential's token rows and current pointer, as {@link TokenStore.listTokensMany} reads them. */
export interface CredentialTokens extends CurrentToken {
  /** Every token row of the credential, newest issuedAt first. */
  rows: TokenRow[];
}

/** Token rows with generation fencing. */
export interface TokenStore {
  /**
   * The channel's current generation (0 when nothing was ever written) and its current token:
   * the row the last commitToken wrote, whatever its state now (null if pruned or deleted).
   */
  getCurrent(channelId: string): Promise<CurrentToken>;
  /**
   * Atomically: if the channel's generation is still `expectedGeneration`, writes `token` with
   * generation expectedGeneration + 1, makes it current, marks the previous current token
   * `superseded` with `revokeAt = supersededRevokeAt` and `updatedAt = token.updatedAt` (only if
   * it is still `valid`: a token already revoked stays revoked), and returns true. Otherwise
   * writes nothing and returns false. This compare-and-set, not the lock, is what keeps a stalled
   * issuer from overwriting a newer token.
   */
  commitToken(channelId: string, expectedGeneration: number, token: TokenRow, supersededRevokeAt: number): Promise<boolean>;
  /** Inserts or replaces a non-current token row (orphans, imported rows). */
  putToken(token: TokenRow): Promise<void>;
  /** Every token row of the channel, newest issuedAt first. */
  listTokens(channelId: string): Promise<TokenRow[]>;
  /**
   * For many channels at once (a broker's start-up): each one's {@link getCurrent} and
   * {@link listTokens}, in a few round trips instead of two per channel. Every ID asked for is in
   * the answer (generation 0, no token, no rows when nothing was written); unknown IDs are no error.
   */
  listTokensMany(channelIds: readonly string[]): Promise<Map<string, CredentialTokens>>;
  /**
   * Sets a token's state (and revokeAt: undefined leaves it, null clears it) with updatedAt =
   * `at` (the caller's clock; Date.now() only when absent); false when there is no such row.
   */
  setTokenState(channelId: string, keyId: string, state: TokenState, revokeAt?: number | null, at?: number): Promise<boolean>;
  /** Deletes token rows (the current one included) with expiresAt < `before`; returns how many. */
  pruneTokens(channelId: string, before: number): Promise<number>;
}
