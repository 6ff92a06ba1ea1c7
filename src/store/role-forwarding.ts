import type { ApiKeyRow, ApiKeyStore } from "./roles/apikeys.ts";
import type { AuditRow, AuditStore } from "./roles/audit.ts";
import type { IssueIntent, SharedBackoff, TokenCoordinationStore } from "./roles/coordination.ts";
import type { ChannelRow, CredentialStore } from "./roles/credentials.ts";
import type { GrantState, GrantStore, GrantWrite } from "./roles/grants.ts";
import type { InboxEvent, InboxLease, InboxStore } from "./roles/inbox.ts";
import type { Lock, LockStore } from "./roles/locks.ts";
import type { OnceMarkStore } from "./roles/marks.ts";
import type { Sealed } from "./roles/sealed.ts";
import type { SealedCell, SettingsStore } from "./roles/settings.ts";
import type { CredentialTokens, CurrentToken, TokenRow, TokenState, TokenStore } from "./roles/tokens.ts";

/** A backend's role objects, one per role of ./roles/ (the lifecycle stays with the store). */
export interface StoreRoles {
  credentials: CredentialStore;
  tokens: TokenStore;
  locks: LockStore;
  marks: OnceMarkStore;
  inbox: InboxStore;
  apiKeys: ApiKeyStore;
  audit: AuditStore;
  settings: SettingsStore;
  coordination: TokenCoordinationStore;
  grants: GrantStore;
}

/**
 * Base of the backends composed of one object per role (SQLite, Redis, PostgreSQL: see their
 * role files, e.g. ./sqlite/tokens.ts): every role method forwards to its object, written once
 * here instead of in each store. The store itself keeps the lifecycle (connect, migrate, close).
 */
export abstract class RoleForwarding implements CredentialStore, TokenStore, LockStore, OnceMarkStore, InboxStore, ApiKeyStore, AuditStore, SettingsStore, TokenCoordinationStore, GrantStore {
  /** The backend's role objects, set by its constructor. */
  protected abstract readonly roles: StoreRoles;

  putChannel(row: ChannelRow): Promise<void> {
    return this.roles.credentials.putChannel(row);
  }
  getChannel(channelId: string): Promise<ChannelRow | null> {
    return this.roles.credentials.getChannel(channelId);
  }
  listChannels(): Promise<ChannelRow[]> {
    return this.roles.credentials.listChannels();
  }
  listChannelIds(): Promise<string[]> {
    return this.roles.credentials.listChannelIds();
  }
  getChannelVersions(channelIds: readonly string[]): Promise<Map<string, number>> {
    return this.roles.credentials.getChannelVersions(channelIds);
  }
  deleteChannel(channelId: string): Promise<boolean> {
    return this.roles.credentials.deleteChannel(channelId);
  }

  getCurrent(channelId: string): Promise<CurrentToken> {
    return this.roles.tokens.getCurrent(channelId);
  }
  commitToken(channelId: string, expectedGeneration: number, token: TokenRow, supersededRevokeAt: number): Promise<boolean> {
    return this.roles.tokens.commitToken(channelId, expectedGeneration, token, supersededRevokeAt);
  }
  putToken(token: TokenRow): Promise<void> {
    return this.roles.tokens.putToken(token);
  }
  listTokens(channelId: string): Promise<TokenRow[]> {
    return this.roles.tokens.listTokens(channelId);
  }
  listTokensMany(channelIds: readonly string[]): Promise<Map<string, CredentialTokens>> {
    return this.roles.tokens.listTokensMany(channelIds);
  }
  setTokenState(channelId: string, keyId: string, state: TokenState, revokeAt?: number | null, at?: number): Promise<boolean> {
    return this.roles.tokens.setTokenState(channelId, keyId, state, revokeAt, at);
  }
  pruneTokens(channelId: string, before: number): Promise<number> {
    return this.roles.tokens.pruneTokens(channelId, before);
  }

  tryLock(name: string, ttlMs: number): Promise<Lock | null> {
    return this.roles.locks.tryLock(name, ttlMs);
  }

  markOnce(key: string, ttlMs: number): Promise<boolean> {
    return this.roles.marks.markOnce(key, ttlMs);
  }
  markMany(keys: readonly string[], ttlMs: number): Promise<boolean[]> {
    return this.roles.marks.markMany(keys, ttlMs);
  }
  isMarked(key: string): Promise<boolean> {
    return this.roles.marks.isMarked(key);
  }

  acceptEvent(key: string, payload: string, ttlMs: number, now: number, lease?: InboxLease): Promise<boolean> {
    return this.roles.inbox.acceptEvent(key, payload, ttlMs, now, lease);
  }
  claimEvents(owner: string, leaseMs: number, limit: number, now: number): Promise<InboxEvent[]> {
    return this.roles.inbox.claimEvents(owner, leaseMs, limit, now);
  }
  finishEvent(key: string, owner: string, now: number): Promise<boolean> {
    return this.roles.inbox.finishEvent(key, owner, now);
  }
  extendEvent(key: string, owner: string, leaseMs: number, now: number): Promise<boolean> {
    return this.roles.inbox.extendEvent(key, owner, leaseMs, now);
  }
  releaseEvent(key: string, owner: string): Promise<boolean> {
    return this.roles.inbox.releaseEvent(key, owner);
  }
  pruneEvents(now: number): Promise<number> {
    return this.roles.inbox.pruneEvents(now);
  }

  putApiKey(row: ApiKeyRow): Promise<void> {
    return this.roles.apiKeys.putApiKey(row);
  }
  getApiKeyByHash(hash: string): Promise<ApiKeyRow | null> {
    return this.roles.apiKeys.getApiKeyByHash(hash);
  }
  listApiKeys(): Promise<ApiKeyRow[]> {
    return this.roles.apiKeys.listApiKeys();
  }
  revokeApiKey(id: string, at: number): Promise<boolean> {
    return this.roles.apiKeys.revokeApiKey(id, at);
  }
  touchApiKey(id: string, at: number): Promise<void> {
    return this.roles.apiKeys.touchApiKey(id, at);
  }

  appendAudit(row: AuditRow): Promise<void> {
    return this.roles.audit.appendAudit(row);
  }
  listAudit(query?: { channelId?: string; limit?: number }): Promise<AuditRow[]> {
    return this.roles.audit.listAudit(query);
  }

  getMeta(name: string): Promise<string | null> {
    return this.roles.settings.getMeta(name);
  }
  setMeta(name: string, value: string): Promise<void> {
    return this.roles.settings.setMeta(name, value);
  }
  listSealed(): Promise<SealedCell[]> {
    return this.roles.settings.listSealed();
  }
  replaceSealed(cell: SealedCell, expected: Sealed): Promise<boolean> {
    return this.roles.settings.replaceSealed(cell, expected);
  }

  getIssueIntent(credentialId: string): Promise<IssueIntent | null> {
    return this.roles.coordination.getIssueIntent(credentialId);
  }
  setIssueIntent(credentialId: string, intent: IssueIntent): Promise<void> {
    return this.roles.coordination.setIssueIntent(credentialId, intent);
  }
  clearIssueIntent(credentialId: string, owner?: string): Promise<void> {
    return this.roles.coordination.clearIssueIntent(credentialId, owner);
  }
  getBackoff(credentialId: string): Promise<SharedBackoff | null> {
    return this.roles.coordination.getBackoff(credentialId);
  }
  setBackoff(credentialId: string, backoff: SharedBackoff): Promise<void> {
    return this.roles.coordination.setBackoff(credentialId, backoff);
  }
  clearBackoff(credentialId: string): Promise<void> {
    return this.roles.coordination.clearBackoff(credentialId);
  }

  getGrant(credentialId: string): Promise<GrantState | null> {
    return this.roles.grants.getGrant(credentialId);
  }
  swapGrant(credentialId: string, expectedVersion: number, next: GrantWrite): Promise<number | null> {
    return this.roles.grants.swapGrant(credentialId, expectedVersion, next);
  }
}
