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

/** The append-only audit log. */
export interface AuditStore {
  appendAudit(row: AuditRow): Promise<void>;
  /** Newest first (by id); every row when no limit is given. */
  listAudit(query?: { channelId?: string; limit?: number }): Promise<AuditRow[]>;
}
