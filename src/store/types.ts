/**
 * The storage contract, split by role (./roles/*.ts): each consumer takes only the slice it uses,
 * and one contract suite per role (test/store/contract/) checks every backend. {@link Store} is
 * the intersection of every role, which each full backend (memory, SQLite, Redis, PostgreSQL)
 * implements. Backends store what they are given: sealing of secrets happens above them (see
 * ./sealed.ts), so a backend never sees a plaintext secret and a contract test can grep raw
 * storage for every secret.
 *
 * Times are epoch milliseconds, and every time written into a row comes from the caller (its
 * injected clock): backends never stamp `Date.now()` into a row field, except as the documented
 * default of an optional argument (`setTokenState`'s `at`), and a migration's own bookkeeping
 * (when it was applied). The one exception is TTL expiry:
 * locks ({@link LockStore}) and once-marks ({@link OnceMarkStore}) expire on the backend's own
 * clock (Redis: PX; PostgreSQL: clock_timestamp(); SQLite and memory: their `now` option, default
 * Date.now), so that processes with skewed clocks still agree on who holds a lock.
 *
 * All methods are async and may throw {@link StoreError}.
 */
export type { StoreLifecycle } from "./roles/lifecycle.ts";
export type { Sealed } from "./roles/sealed.ts";
export { DEFAULT_CREDENTIAL_KIND, type ChannelRow, type CredentialSettings, type CredentialStore, type TokenPolicyOverrides } from "./roles/credentials.ts";
export type { CurrentToken, TokenRow, TokenState, TokenStore } from "./roles/tokens.ts";
export type { Lock, LockStore } from "./roles/locks.ts";
export type { OnceMarkStore } from "./roles/marks.ts";
export type { InboxEvent, InboxLease, InboxStore } from "./roles/inbox.ts";
export type { ApiKeyRow, ApiKeyStore } from "./roles/apikeys.ts";
export type { AuditRow, AuditStore } from "./roles/audit.ts";
export type { SealedCell, SettingsStore } from "./roles/settings.ts";
export type { IssueIntent, SharedBackoff, TokenCoordinationStore } from "./roles/coordination.ts";
export type { GrantState, GrantStatus, GrantStore, GrantWrite } from "./roles/grants.ts";

import type { ApiKeyStore } from "./roles/apikeys.ts";
import type { AuditStore } from "./roles/audit.ts";
import type { TokenCoordinationStore } from "./roles/coordination.ts";
import type { CredentialStore } from "./roles/credentials.ts";
import type { GrantStore } from "./roles/grants.ts";
import type { StoreLifecycle } from "./roles/lifecycle.ts";
import type { LockStore } from "./roles/locks.ts";
import type { OnceMarkStore } from "./roles/marks.ts";
import type { InboxStore } from "./roles/inbox.ts";
import type { SettingsStore } from "./roles/settings.ts";
import type { TokenStore } from "./roles/tokens.ts";

/** Every role at once: what a full backend implements and what openStore returns. */
export type Store = StoreLifecycle &
  CredentialStore &
  TokenStore &
  LockStore &
  OnceMarkStore &
  InboxStore &
  ApiKeyStore &
  AuditStore &
  SettingsStore &
  TokenCoordinationStore &
  GrantStore;
