/**
 * The token lifecycle: `TokenManager` and what it needs, as one import (`kagiya/tokens`).
 *
 * @example
 * ```ts
 * import { openTokenContext } from "kagiya/tokens";
 * const { manager, close } = await openTokenContext({ store: "sqlite:./kagiya.db" });
 * const { accessToken } = await manager.get("1234567890");
 * await close();
 * ```
 *
 * @module
 */
export type { ManagedToken, ReconcileReport, ChannelTokenStatus, TokenObserver, TokenSource } from "./types.ts";
export { TokenManager } from "./manager.ts";
export type { TokenManagerOptions, IssueReason, RevokeReport, MaintainChannelReport, ChannelPlan, ActorOptions } from "./options.ts";
export { DEFAULT_TOKEN_POLICY, LINE_TOKEN_LIMITS, resolveTokenPolicy, planRefreshAt, type TokenPolicy } from "./policy.ts";
export { TokenUnavailableError, TokenBudgetExhaustedError, TokenNotFoundError, NoLedgerError, InvalidGrantError, ReauthRequiredError } from "./errors.ts";
export { KindRegistry, type CredentialKind, type ObtainedToken, type KeyLedger, type GrantSecret, type GrantUse } from "./kind.ts";
export type { GrantChange, GrantHooks, TokenUpdate } from "./grants.ts";
export { builtinKinds, lineV21Kind, lineStatelessKind, lineWorksKind, LINE_WORKS_KIND, STATELESS_LIFETIME_SECONDS, type KindUpstreams, type StatelessAuth } from "../kinds/index.ts";
export { lineTokenApi, type LineTokenApiOptions } from "./line.ts";
export { classifyFailure, type LineTokenApi, type LineStatelessApi, type IssuedToken, type UpstreamFailure } from "./upstream.ts";
export { LINE_UPSTREAM, WORKS_UPSTREAM, oauthUpstream, type IssuePermit } from "./permits.ts";
export { openTokenContext, type TokenContext, type TokenContextOptions } from "./context.ts";
export { oauth2Kind, resolveOAuthPolicy, OAUTH2_KIND, type OAuth2KindOptions } from "../kinds/index.ts";
export {
  engineTokenHolder, grantFetch, grantSummaries, loginObtained, revokeGrant, storeLoginGrant,
  type GrantSummary, type GrantContext, type GrantRevocation,
} from "./oauth-grants.ts";
