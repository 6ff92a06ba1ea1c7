/** "An issuance may be in flight": written before asking the upstream, cleared once the outcome is known. */
export interface IssueIntent {
  /** Unique per attempt, so an attempt clears only its own intent. */
  owner: string;
  /** When the attempt began, epoch ms (the caller's clock). */
  at: number;
}

/** One failure's backoff, shared so that every process honours its Retry-After. */
export interface SharedBackoff {
  /** Epoch ms before which nobody asks the upstream again. */
  retryAt: number;
  code: string;
  message: string;
}

/** The token engine's cross-process coordination state, per credential. */
export interface TokenCoordinationStore {
  getIssueIntent(credentialId: string): Promise<IssueIntent | null>;
  /** Inserts or replaces the credential's intent. */
  setIssueIntent(credentialId: string, intent: IssueIntent): Promise<void>;
  /** Removes the intent: with `owner`, only while it still is that owner's; without, unconditionally. */
  clearIssueIntent(credentialId: string, owner?: string): Promise<void>;
  getBackoff(credentialId: string): Promise<SharedBackoff | null>;
  /** Inserts or replaces the credential's backoff. */
  setBackoff(credentialId: string, backoff: SharedBackoff): Promise<void>;
  clearBackoff(credentialId: string): Promise<void>;
}
