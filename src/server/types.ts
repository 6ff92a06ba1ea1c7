import type { ChannelTokenStatus, ManagedToken, ReconcileReport, TokenSource } from "../tokens/types.ts";

/** Who acts, for the audit log ("admin", "scheduler", ...). */
export interface ActorOption {
  actor?: string;
}

/**
 * What the server needs of the token lifecycle: the TokenManager fits. Defined here so the
 * server's routes and scheduler are written (and tested) against this contract alone.
 */
export interface TokenService extends TokenSource {
  /** Required here: the token API answers an in-memory token without a promise. */
  peek(channelId: string): ManagedToken | undefined;
  /** Issues a new token now (dashboard "issue"), superseding the current one. */
  issue(channelId: string, options?: ActorOption): Promise<ManagedToken>;
  /** Revokes one token by key ID, or every token of the channel. */
  revoke(channelId: string, keyId: string, options?: ActorOption): Promise<unknown>;
  /** Compares stored tokens with LINE's valid key IDs. */
  reconcile(channelId: string, options?: ActorOption): Promise<ReconcileReport>;
  /** The channel's tokens, budget, last refresh and last error. */
  status(channelId: string): Promise<ChannelTokenStatus>;
}

/**
 * What the background scheduler needs: one call that does whatever is due for a channel
 * (refresh at the refresh point, revoke superseded tokens whose grace ended, prune) and says
 * when the channel next needs attention.
 */
export interface MaintenanceTarget {
  /** Does what is due now; resolves to the epoch ms of the next due action (null: nothing planned). */
  maintain(channelId: string): Promise<number | null>;
  /**
   * When each of these channels is next due, from a bulk read of the store (a start-up plans this
   * way instead of maintaining every channel in turn): epoch ms, or null for now. Optional: without
   * it every new channel is due at once.
   */
  dueMany?(channelIds: string[]): Promise<Map<string, number | null>>;
  reconcile(channelId: string, options?: ActorOption): Promise<unknown>;
}

/** The audit actions the server writes (the TokenManager writes the token.* ones). */
export type ServerAuditAction = "apikey.create" | "apikey.use" | "apikey.revoke" | "admin.login" | "admin.login_failed" | "webhook.reject";
