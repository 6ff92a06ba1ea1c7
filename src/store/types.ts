/**
 * The one storage interface every backend (memory, SQLite, Redis, PostgreSQL) implements and
 * that one shared contract suite (test/store/contract.ts) checks. Backends store what they are
 * given: sealing of secrets happens above them (see ./sealed.ts), so a backend never sees a
 * plaintext secret and a contract test can grep raw storage for every secret.
 *
 * Times are epoch milliseconds. All methods are async and may throw {@link StoreError}.
 */

/** A sealed secret as stored: `v1.<keyVersion>.<nonce b64url>.<ciphertext+tag b64url>`. */
export type Sealed = string;

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

/** A registered LINE channel as the store holds it (secrets sealed). */
export interface ChannelRow {
  channelId: string;
  /** The kid LINE assigned to the registered public key. */
  kid: string;
  /** Sealed private JWK (JSON text before sealing). */
  privateKey: Sealed;
  /** Sealed channel secret. */
  channelSecret: Sealed;
  policy: TokenPolicyOverrides;
  createdAt: number;
  updatedAt: number;
}

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
  /** The channel generation this token was written under (see {@link Store.commitToken}). */
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

/** API key for the token broker, stored only as a hash. */
export interface ApiKeyRow {
  id: string;
  name: string;
  /** Hex SHA-256 of the key text (keys are 256-bit random, so a fast hash is enough). */
  hash: string;
  /** Channel IDs this key may read tokens of. */
  channels: string[];
  createdAt: number;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

/** One audit record. Never carries a token or a secret. */
export interface AuditRow {
  id?: number;
  at: number;
  /** e.g. token.issue, token.refresh, token.revoke, token.reconcile, apikey.create, apikey.use, apikey.revoke, admin.login, webhook.reject */
  action: string;
  /** Who: "cli", "scheduler", "apikey:<id>", "admin", "webhook". */
  actor: string;
  channelId: string | null;
  keyId: string | null;
  /** Short free text without secrets (reason, outcome). */
  detail: string | null;
}

/** A held lock. Releasing a lock someone else now holds is a no-op. */
export interface Lock {
  readonly name: string;
  /** Opaque owner token; also a fencing value for diagnostics. */
  readonly owner: string;
  release(): Promise<void>;
  /**
   * Keeps the lock for `ttlMs` more from now, while it is still this holder's: false when it
   * expired and someone else took it (or nobody holds it any more).
   */
  extend(ttlMs: number): Promise<boolean>;
}

/**
 * Which rows hold sealed values, for master-key rotation (walks every sealed column): channels
 * (privateKey, channelSecret), tokens (accessToken, when not null) and meta values whose name
 * begins with `sealed.` (column "value"), e.g. the master-key check value `sealed.master_check`.
 */
export interface SealedCell {
  table: "channels" | "tokens" | "meta";
  /** Row key: channelId, `${channelId}/${keyId}`, or the meta name. */
  row: string;
  column: string;
  value: Sealed;
}

export interface Store {
  /** Short name: "memory" | "sqlite" | "redis" | "postgres". */
  readonly kind: string;

  /** Creates or migrates the schema to the current version; idempotent. */
  migrate(): Promise<void>;
  /** Throws StoreError when the backend is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;

  // --- meta (master-key check value, schema version, free settings) ---
  getMeta(name: string): Promise<string | null>;
  setMeta(name: string, value: string): Promise<void>;

  // --- channels ---
  /** Inserts or replaces a channel. */
  putChannel(row: ChannelRow): Promise<void>;
  getChannel(channelId: string): Promise<ChannelRow | null>;
  listChannels(): Promise<ChannelRow[]>;
  /** Deletes the channel and its tokens; false when there was none. */
  deleteChannel(channelId: string): Promise<boolean>;

  // --- tokens ---
  /**
   * The channel's current generation (0 when nothing was ever written) and its current token:
   * the row the last commitToken wrote, whatever its state now (null if pruned or deleted).
   */
  getCurrent(channelId: string): Promise<CurrentToken>;
  /**
   * Atomically: if the channel's generation is still `expectedGeneration`, writes `token` with
   * generation expectedGeneration + 1, makes it current, marks the previous current token
   * `superseded` with `revokeAt = supersededRevokeAt` (only if it is still `valid`: a token
   * already revoked stays revoked), and returns true. Otherwise writes
   * nothing and returns false. This compare-and-set, not the lock, is what keeps a stalled
   * issuer from overwriting a newer token.
   */
  commitToken(channelId: string, expectedGeneration: number, token: TokenRow, supersededRevokeAt: number): Promise<boolean>;
  /** Inserts or replaces a non-current token row (orphans, imported rows). */
  putToken(token: TokenRow): Promise<void>;
  /** Every token row of the channel, newest issuedAt first. */
  listTokens(channelId: string): Promise<TokenRow[]>;
  /**
   * Sets a token's state (and revokeAt: undefined leaves it, null clears it); false when there is
   * no such row.
   */
  setTokenState(channelId: string, keyId: string, state: TokenState, revokeAt?: number | null): Promise<boolean>;
  /** Deletes token rows (the current one included) with expiresAt < `before`; returns how many. */
  pruneTokens(channelId: string, before: number): Promise<number>;

  // --- locks (advisory: they only prevent duplicate work) ---
  /** Tries once to take `name` for `ttlMs`; null when someone else holds it. */
  tryLock(name: string, ttlMs: number): Promise<Lock | null>;

  // --- webhook de-duplication ---
  /** Records `key` for `ttlMs`; true the first time, false while it is remembered. */
  markOnce(key: string, ttlMs: number): Promise<boolean>;
  /** Whether `key` was marked and its TTL has not run out (marks nothing). */
  isMarked(key: string): Promise<boolean>;

  // --- API keys ---
  putApiKey(row: ApiKeyRow): Promise<void>;
  getApiKeyByHash(hash: string): Promise<ApiKeyRow | null>;
  /** Oldest createdAt first. */
  listApiKeys(): Promise<ApiKeyRow[]>;
  /** Marks the key revoked (a second revoke keeps the first time); false when there is no such key. */
  revokeApiKey(id: string, at: number): Promise<boolean>;
  touchApiKey(id: string, at: number): Promise<void>;

  // --- audit ---
  appendAudit(row: AuditRow): Promise<void>;
  /** Newest first (by id); every row when no limit is given. */
  listAudit(query?: { channelId?: string; limit?: number }): Promise<AuditRow[]>;

  // --- master-key rotation ---
  /** Every sealed value in the store. */
  listSealed(): Promise<SealedCell[]>;
  /** Replaces one sealed value if it still equals `expected`; false otherwise. */
  replaceSealed(cell: SealedCell, expected: Sealed): Promise<boolean>;
}
