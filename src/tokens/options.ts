/**
 * The TokenManager's options and the reports its administrative methods return.
 *
 * @module
 */
import type { ChannelRegistry, RegistryStore } from "../store/registry.ts";
import type { EngineStore } from "./engine.ts";
import type { TokenObserver } from "./types.ts";
import type { CredentialKind } from "./kind.ts";
import type { LineTokenApi } from "./upstream.ts";
import type { WorksTokenApi } from "../clients/works/port.ts";
import type { GrantHooks } from "./grants.ts";
import type { IssuePermit } from "./permits.ts";

/**
 * Options of {@link TokenManager}. Durations in ms unless the name says otherwise. The grant hooks
 * (`onGrant`, `onTokens`, `onHookError`, see ./grants.ts) are called in-process; what they throw
 * is caught and reported, and never loses a token.
 */
export interface TokenManagerOptions extends GrantHooks {
  /** Credentials (and, through it, the store and the sealer); the store needs only the engine's slice. */
  registry: ChannelRegistry<EngineStore & RegistryStore>;
  /**
   * The LINE token endpoints (default: `lineTokenApi({ baseUrl: lineApiBase, now })`, kagiya's
   * LINE client, one attempt per call).
   */
  line?: LineTokenApi;
  /**
   * More credential kinds, beside the built-in ones (`src/kinds/`); one with a built-in's name
   * replaces it.
   */
  kinds?: CredentialKind[];
  /** LINE API origin when `line` is not given (default `KAGIYA_LINE_API_BASE`, else https://api.line.me). */
  lineApiBase?: string;
  /**
   * LINE WORKS' auth server for `line-works` credentials (default: `worksTokenApi({ authBaseUrl:
   * worksAuthBase, now })`, kagiya's LINE WORKS client, one attempt per call).
   */
  works?: WorksTokenApi;
  /** LINE WORKS auth origin when `works` is not given (default `KAGIYA_WORKS_AUTH_BASE`, else https://auth.worksmobile.com). */
  worksAuthBase?: string;
  /**
   * For `oauth2` grants registered from a preset: LINE's production origins → replacements
   * (`presetOriginsFromEnv(process.env)`: KAGIYA_LINE_LOGIN_BASE, KAGIYA_LINE_API_BASE, KAGIYA_WORKS_AUTH_BASE).
   */
  oauthOrigins?: Readonly<Record<string, string>>;
  /** fetch for `oauth2` grants' token endpoints (default the global one). */
  oauthFetch?: typeof fetch;
  /**
   * Awaited right before each token request the built-in kinds send (issuances and refreshes, not
   * revocations), with the upstream's name: `"line"` (LINE's channel token API, given `line` or
   * not), `"line-works"`, `"oauth:<token endpoint origin>"`. The server's `--max-issue-rate` takes a
   * permit of that upstream's own limit here. What it throws fails the issuance with nothing sent.
   */
  issuePermit?: IssuePermit;
  /** Clock, epoch ms (default `Date.now`). Every expiry, refresh and backoff decision reads it. */
  now?: () => number;
  /** Uniform random in [0, 1) for the refresh jitter and backoff jitter (default `Math.random`). */
  random?: () => number;
  /** Audit actor for calls that do not name one (default "library"). */
  actor?: string;
  /** Keep handed-out tokens in memory (default true). Off: every get() reads the store. */
  cache?: boolean;
  /** How long a token in memory is trusted before the store is asked again (default 5000: a revocation by another process is seen within 5 s). */
  cacheCheckMs?: number;
  /** TTL of the store lock held while issuing (default 30000). */
  lockTtlMs?: number;
  /** How long to wait for another process's issuance before giving up (default lockTtlMs + 5000). */
  lockWaitMs?: number;
  /**
   * At the refresh point, with a valid token in hand, how long to wait for another process's
   * refresh before serving the valid token anyway (default 2000; it is tried again after as long).
   */
  refreshWaitMs?: number;
  /** Backoff after a failed LINE call: base and cap (defaults 1000 and 300000), equal jitter. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Metrics hooks; never given a token. */
  observer?: TokenObserver;
}

/** Why a token is being issued. */
export type IssueReason = "cold" | "refresh" | "invalidated" | "manual";

/** What {@link TokenManager.revoke} did. */
export interface RevokeReport {
  channelId: string;
  revoked: string[];
  /**
   * Rows not revoked and why: `orphan` (kagiya never held its text), `unrevocable` (the kind's
   * tokens lapse at expiry instead), `failed` (the provider call failed; try again).
   */
  skipped: Array<{ keyId: string; reason: string; cause: "orphan" | "unrevocable" | "failed" }>;
}

/** What {@link TokenManager.maintain} did for one channel. */
export interface MaintainChannelReport {
  channelId: string;
  /** A new token was issued because the refresh point had passed. */
  refreshed: boolean;
  /** Superseded tokens revoked because their grace ended. */
  revoked: string[];
  /** Expired rows deleted. */
  pruned: number;
  error: { code: string; message: string } | null;
  /** When the channel next needs attention (see {@link ChannelPlan.nextAt}). */
  nextAt: number | null;
}

/** When a channel next needs attention, for a scheduler. Epoch ms on the manager's clock. */
export interface ChannelPlan {
  channelId: string;
  /** Refresh point of the current token; null when there is none (get() issues on demand). */
  refreshAt: number | null;
  /** Earliest revokeAt among superseded tokens, or null. */
  revokeDueAt: number | null;
  /** While backing off after a LINE failure: when LINE is asked again. */
  retryAt: number | null;
  /** The earliest due action: the refresh (not before retryAt) or a revocation; null when nothing is planned. */
  nextAt: number | null;
}

/** Per-call options of the administrative methods. */
export interface ActorOptions {
  /** Who is acting, for the audit log ("cli", "scheduler", "apikey:<id>", …). */
  actor?: string;
}
