import type { GrantStatus } from "../store/types.ts";

/**
 * The public shape of the token lifecycle (implemented by ./manager.ts). Defined on its own so
 * the server, the webhook bot and the bot-sdk adapter depend on this contract, not on the class.
 */

/** A token handed out by the manager. `accessToken` is a secret: never log it. */
export interface ManagedToken {
  channelId: string;
  accessToken: string;
  /** LINE's key_id for this token. */
  keyId: string;
  tokenType: "Bearer";
  issuedAt: number;
  /** Epoch ms. */
  expiresAt: number;
}

/** What `reconcile()` found. */
export interface ReconcileReport {
  channelId: string;
  /** Key IDs LINE lists as valid. */
  validKeyIds: string[];
  /** Stored tokens LINE no longer lists, now marked revoked. */
  markedRevoked: string[];
  /** Key IDs LINE lists that kagiya never stored. */
  orphans: string[];
  /** Valid tokens counted against LINE's cap (kagiya's own + orphans). */
  budgetUsed: number;
  /** 30 - budgetUsed. */
  budgetLeft: number;
}

/** A credential's token situation, for the dashboard, metrics and `token list`. */
export interface ChannelTokenStatus {
  channelId: string;
  /** The credential's kind (e.g. "line-v2.1"); null when it is no longer registered. */
  kind: string | null;
  tokens: Array<{ keyId: string; state: string; issuedAt: number; expiresAt: number; refreshAt: number; revokeAt: number | null }>;
  /** Live tokens (not revoked, not expired; orphans included). */
  budgetUsed: number;
  /** The provider's cap per credential (LINE v2.1: 30); null when the kind has none. */
  budgetLimit: number | null;
  lastRefreshAt: number | null;
  lastError: { at: number; code: string; message: string } | null;
  /**
   * The credential's grant (refresh token), never its text: stored version, status
   * (`reauth_required`: a new login is needed), and whether a write still waits for the store in
   * this process. Null when it keeps none. Optional for sources that know nothing of grants.
   */
  grant?: { version: number; status: GrantStatus; updatedAt: number | null; pendingWrite: boolean } | null;
}

/** Hooks for metrics; every field optional. Never given a token or secret. */
export interface TokenObserver {
  issued?(channelId: string, reason: "cold" | "refresh" | "invalidated" | "manual", ms: number): void;
  failed?(channelId: string, reason: string): void;
  lockWait?(channelId: string, ms: number): void;
  upstream?(endpoint: string, status: number, ms: number): void;
  /** A background re-check of a token served from memory past its check interval ended (whatever it found). */
  rechecked?(channelId: string, ms: number): void;
}

/** What consumers of tokens need; the TokenManager implements it. */
export interface TokenSource {
  /** A valid token for the channel, issuing only when needed. */
  get(channelId: string): Promise<ManagedToken>;
  /**
   * The token get() would answer from memory right now, without waiting; undefined when get()
   * would have to go to the store or LINE. Optional: for hot paths that avoid a promise per call.
   */
  peek?(channelId: string): ManagedToken | undefined;
  /** LINE rejected this token (401): forget it; the next get() issues at most once. */
  invalidate(channelId: string, keyId: string): Promise<void>;
}
