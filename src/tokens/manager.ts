/**
 * The TokenManager: owns the whole life of every credential's tokens (LINE channel access tokens
 * v2.1, stateless tokens, and any kind registered with it) in a store shared by any number of
 * processes.
 *
 * How a token is found, in order:
 * 1. memory: a Map lookup and an expiry check (no await of its own); past the check interval,
 *    still memory while one re-check of the store runs in the background (./recheck.ts);
 * 2. the store: the credential's current token row, its access token opened from its seal;
 * 3. the provider: only when no token is usable or the token's refresh point has passed.
 *
 * The work is done by the engine's modules (./issuer.ts, ./ledger.ts, ./revocation.ts,
 * ./maintenance.ts over the state in ./engine.ts); what differs per kind is in `src/kinds/`.
 *
 * @module
 */
import { builtinKinds } from "../kinds/index.ts";
import { validateCredentialId } from "../store/credential-input.ts";
import { TokenCache } from "./cache.ts";
import { CredentialCache } from "./credentials.ts";
import { singleFlight, type Engine } from "./engine.ts";
import { GrantBook } from "./grants.ts";
import { HealthBook } from "./health.ts";
import { resolve, waitForLock } from "./issuer.ts";
import { releaseLock } from "./locks.ts";
import { KindRegistry, type ObtainedToken } from "./kind.ts";
import { InvalidInputError } from "../core/errors.ts";
import { reconcileLocked } from "./ledger.ts";
import { staleHit } from "./recheck.ts";
import { maintainCredential, plan, planMany, status } from "./maintenance.ts";
import type { TokenPolicy } from "./policy.ts";
import type { TokenPolicyOverrides } from "../store/types.ts";
import { resolveConfig, type ActorOptions, type ChannelPlan, type MaintainChannelReport, type RevokeReport, type TokenManagerOptions } from "./options.ts";
import { invalidate, revoke } from "./revocation.ts";
import type { ChannelTokenStatus, ManagedToken, ReconcileReport, TokenSource } from "./types.ts";
import { lineUpstream, worksUpstream } from "./upstream-options.ts";
import { ChannelNotFoundError } from "../store/errors.ts";

export type { ActorOptions, ChannelPlan, IssueReason, MaintainChannelReport, RevokeReport, TokenManagerOptions } from "./options.ts";

/** A token given to {@link TokenManager.adopt}: the checks the kinds make of a provider's answer. Never shows a value. */
function checkObtained(t: ObtainedToken): void {
  const bad = (field: string, what: string) => new InvalidInputError(`token.${field} ${what}`, { field: `token.${field}` });
  if (t === null || typeof t !== "object") throw new InvalidInputError("token must be an object with accessToken, keyId and expiresIn", { field: "token" });
  if (typeof t.accessToken !== "string" || t.accessToken === "") throw bad("accessToken", "must be a non-empty string");
  if (typeof t.keyId !== "string" || t.keyId === "" || t.keyId.length > 256) throw bad("keyId", "must be a non-empty string of at most 256 characters");
  if (typeof t.expiresIn !== "number" || !Number.isFinite(t.expiresIn) || t.expiresIn <= 0) throw bad("expiresIn", "must be a positive number of seconds");
  if (t.grant !== undefined && (t.grant === null || typeof t.grant !== "object" || typeof t.grant.refreshToken !== "string" || t.grant.refreshToken === "")) throw bad("grant", "must carry a non-empty refreshToken");
}

/**
 * Issues, stores, serves, refreshes, revokes and reconciles the tokens of every registered
 * credential. Implements {@link TokenSource}.
 *
 * @example
 * ```ts
 * import { openStore, ChannelRegistry, Sealer, loadMasterKey } from "kagiya/store";
 * import { TokenManager } from "kagiya/tokens";
 * const store = await openStore("sqlite:./kagiya.db");
 * const registry = await ChannelRegistry.open(store, new Sealer(loadMasterKey(process.env)));
 * const manager = new TokenManager({ registry }); // LINE at KAGIYA_LINE_API_BASE or https://api.line.me
 * const { accessToken } = await manager.get("1234567890");
 * ```
 */
export class TokenManager implements TokenSource {
  readonly #e: Engine;
  readonly #invalidating = new Map<string, Promise<void>>();
  readonly #rechecks = new Map<string, Promise<void>>();

  constructor(options: TokenManagerOptions) {
    const now = options.now ?? Date.now;
    const random = options.random ?? Math.random;
    const config = resolveConfig(options);
    const observer = options.observer ?? {};
    const oauth = { lookup: (id: string) => options.registry.require(id), now, ...(options.oauthOrigins ? { origins: { ...options.oauthOrigins } } : {}), ...(options.oauthFetch ? { fetch: options.oauthFetch } : {}), ...(options.issuePermit ? { permit: options.issuePermit } : {}) };
    const kinds = new KindRegistry([...builtinKinds({ line: lineUpstream(options, now), works: worksUpstream(options, now), oauth }), ...(options.kinds ?? [])]);
    this.#e = Object.freeze({
      config, now, random, observer, kinds,
      registry: options.registry,
      store: options.registry.store,
      cache: new TokenCache(config.cacheOn, config.cacheCheckMs, config.cacheStaleMs),
      credentials: new CredentialCache(options.registry, kinds, config.cacheCheckMs),
      health: new HealthBook({ now, random, backoffBaseMs: config.backoffBaseMs, backoffMaxMs: config.backoffMaxMs, observer }),
      grants: new GrantBook({ onGrant: options.onGrant, onTokens: options.onTokens, onHookError: options.onHookError }),
      flights: new Map(),
    });
  }

  /** Names of the credential kinds this manager can handle. */
  kinds(): string[] {
    return this.#e.kinds.names();
  }

  /**
   * The policy a credential of `kind` gets from `overrides`, validated by that kind (throws
   * InvalidInputError `ERR_KIND_UNKNOWN` or `ERR_TOKEN_POLICY_INVALID`): check before registering.
   *
   * @example
   * ```ts
   * manager.policyFor("line-stateless", {}).lifetimeSeconds; // 900
   * ```
   */
  policyFor(kind: string, overrides: TokenPolicyOverrides = {}): TokenPolicy {
    return this.#e.kinds.get(kind).resolvePolicy(overrides);
  }

  /**
   * A valid token for the credential. From memory when it can be (no await of its own), else from
   * the store, else issued once for every caller in every process sharing the store. While the
   * provider fails, a token that is still valid keeps being served; when none is, this rejects at
   * once with {@link TokenUnavailableError} until the backoff ends.
   *
   * Memory is trusted `cacheCheckMs`; for `cacheStaleMs` after that (before the refresh point)
   * the token in memory is still answered at once while one re-check of the store runs in the
   * background, and the calls after it see what it found.
   *
   * @example
   * ```ts
   * const token = await manager.get("1234567890");
   * await fetch(url, { headers: { authorization: `Bearer ${token.accessToken}` } });
   * ```
   */
  get(id: string): Promise<ManagedToken> {
    const e = this.#e;
    const now = e.now();
    const hit = e.cache.fresh(id, now);
    if (hit !== undefined) return hit;
    const stale = staleHit(e, this.#rechecks, id, now);
    if (stale !== undefined) return stale.promise;
    return e.config.cacheOn ? singleFlight(e.flights, id, () => this.#resolveOrKeep(id)) : resolve(e, id, null);
  }

  /**
   * The token {@link get} would answer from memory now, synchronously; undefined when get()
   * would wait for the store or the provider (then call get()). Past the check interval it starts
   * the background re-check as get() does.
   *
   * @example
   * ```ts
   * const token = manager.peek("1234567890") ?? (await manager.get("1234567890"));
   * ```
   */
  peek(id: string): ManagedToken | undefined {
    const now = this.#e.now();
    return this.#e.cache.peek(id, now) ?? staleHit(this.#e, this.#rechecks, id, now)?.token;
  }

  /** Like resolve, but when the store itself fails, a token still in memory keeps being served. */
  async #resolveOrKeep(id: string): Promise<ManagedToken> {
    try {
      return await resolve(this.#e, id, null);
    } catch (error) {
      const kept = error instanceof ChannelNotFoundError ? undefined : this.#e.cache.keep(id, this.#e.now());
      if (kept === undefined) throw error;
      return kept;
    }
  }

  /**
   * Issues a new token now, whatever the current one's state (the current one is superseded and
   * revoked after the grace). Respects the budget.
   *
   * @example
   * ```ts
   * const t = await manager.issue("1234567890", { actor: "cli" });
   * console.log(t.keyId, new Date(t.expiresAt));
   * ```
   */
  issue(id: string, options: ActorOptions = {}): Promise<ManagedToken> {
    return resolve(this.#e, id, { reason: "manual", actor: options.actor ?? this.#e.config.actor });
  }

  /**
   * Stores a token obtained outside the manager (an OAuth login's code exchange) as the
   * credential's current token, with its grant when it carries one (written by compare-and-set on
   * the stored version, which a new login replaces whatever its status), under the issue lock like
   * any issue. Nothing is asked of the provider. Throws InvalidInputError for a malformed token.
   *
   * @example
   * ```ts
   * await manager.adopt("my-grant", { accessToken, keyId: "login-1", expiresIn: 3600, grant: { refreshToken } }, { actor: "cli" });
   * ```
   */
  adopt(id: string, token: ObtainedToken, options: ActorOptions = {}): Promise<ManagedToken> {
    try {
      validateCredentialId(id);
      checkObtained(token);
    } catch (error) {
      return Promise.reject(error);
    }
    const given: ObtainedToken = { accessToken: token.accessToken, keyId: token.keyId, expiresIn: token.expiresIn, ...(token.grant !== undefined ? { grant: { ...token.grant } } : {}) };
    return resolve(this.#e, id, { reason: "manual", actor: options.actor ?? this.#e.config.actor, given });
  }

  /**
   * The provider rejected this token (401): forget it. The next get() issues, at most once however
   * many callers report the same key ID.
   *
   * @example
   * ```ts
   * if (res.status === 401) { await manager.invalidate(id, token.keyId); token = await manager.get(id); }
   * ```
   */
  invalidate(id: string, keyId: string, options: ActorOptions = {}): Promise<void> {
    this.#e.cache.forget(id, [keyId]);
    try {
      validateCredentialId(id);
    } catch (error) {
      return Promise.reject(error);
    }
    // Many callers report the same 401 at once: one store update and one revocation between them.
    return singleFlight(this.#invalidating, `${id}/${keyId}`, () => invalidate(this.#e, id, keyId, options.actor ?? this.#e.config.actor));
  }

  /**
   * Revokes one token by key ID, or every token kagiya holds for the credential with `"all"`.
   *
   * @example
   * ```ts
   * await manager.revoke("1234567890", "all", { actor: "cli" });
   * ```
   */
  async revoke(id: string, keyId: string | "all", options: ActorOptions = {}): Promise<RevokeReport> {
    validateCredentialId(id);
    return revoke(this.#e, id, keyId, options.actor ?? this.#e.config.actor);
  }

  /**
   * Asks the provider for the credential's valid key IDs; marks stored tokens it no longer lists
   * revoked; records key IDs it lists that the store does not know as orphans (they count against
   * the budget until they expire); reports the budget left. Only for kinds with a ledger (LINE v2.1).
   *
   * @example
   * ```ts
   * const r = await manager.reconcile("1234567890");
   * console.log(r.orphans, r.budgetLeft);
   * ```
   */
  async reconcile(id: string, options: ActorOptions = {}): Promise<ReconcileReport> {
    validateCredentialId(id);
    const e = this.#e;
    const entry = await e.credentials.load(id, e.now());
    // Under the issue lock, so a token being issued elsewhere is not mistaken for an orphan.
    const lock = await waitForLock(e, id, null);
    try {
      return await reconcileLocked(e, entry, options.actor ?? e.config.actor);
    } finally {
      if ("release" in lock) await releaseLock(lock, e.config.lockTtlMs);
    }
  }

  /**
   * Housekeeping for one credential, for the server's scheduler: refreshes the current token once
   * its refresh point has passed (credentials without a token are left for get() to issue on
   * demand), revokes superseded tokens whose grace ended, prunes rows long expired. Resolves to
   * when the credential next needs attention (epoch ms on the manager's clock; null: nothing
   * planned). Failures are recorded in status(), never thrown.
   *
   * @example
   * ```ts
   * const next = await manager.maintain("1234567890", { actor: "scheduler" });
   * ```
   */
  async maintain(id: string, options: ActorOptions = {}): Promise<number | null> {
    return (await this.maintainChannel(id, options)).nextAt;
  }

  /**
   * {@link maintain} for every registered credential (or those named), one after the other.
   *
   * @example
   * ```ts
   * for (const r of await manager.maintainAll()) if (r.error) console.warn(r.channelId, r.error.code);
   * ```
   */
  async maintainAll(options: ActorOptions & { channels?: string[] } = {}): Promise<MaintainChannelReport[]> {
    const ids = options.channels ?? (await this.#e.store.listChannels()).map((c) => c.channelId);
    const reports: MaintainChannelReport[] = [];
    for (const id of ids) reports.push(await this.maintainChannel(id, options));
    return reports;
  }

  /**
   * {@link maintain} with the details of what was done.
   *
   * @example
   * ```ts
   * const { revoked, refreshed } = await manager.maintainChannel("1234567890");
   * ```
   */
  async maintainChannel(id: string, options: ActorOptions = {}): Promise<MaintainChannelReport> {
    try {
      validateCredentialId(id);
    } catch (error) {
      const { code, message } = error as { code: string; message: string };
      return { channelId: id, refreshed: false, revoked: [], pruned: 0, error: { code, message }, nextAt: null };
    }
    return maintainCredential(this.#e, id, options.actor ?? "scheduler");
  }

  /**
   * The credential's tokens (never their text), budget, last refresh and last error.
   *
   * @example
   * ```ts
   * const s = await manager.status("1234567890");
   * console.log(`${s.budgetUsed}/${s.budgetLimit ?? "no cap"}`);
   * ```
   */
  async status(id: string): Promise<ChannelTokenStatus> {
    validateCredentialId(id);
    return status(this.#e, id);
  }

  /**
   * The current token's refresh point (epoch ms), or null when there is no usable token.
   *
   * @example
   * ```ts
   * const at = await manager.refreshAt("1234567890");
   * ```
   */
  async refreshAt(id: string): Promise<number | null> {
    return (await this.plan(id)).refreshAt;
  }

  /**
   * When the credential next needs attention: refresh point, next superseded-token revocation,
   * and the end of a backoff.
   *
   * @example
   * ```ts
   * const { nextAt } = await manager.plan("1234567890");
   * if (nextAt !== null) setTimeout(() => manager.maintain("1234567890"), nextAt - Date.now());
   * ```
   */
  async plan(id: string): Promise<ChannelPlan> {
    validateCredentialId(id);
    return plan(this.#e, id);
  }

  /**
   * {@link plan} for many credentials from a few bulk reads of the store (a start-up reads this way
   * instead of asking each credential in turn). Invalid IDs are left out of the answer.
   *
   * @example
   * ```ts
   * const plans = await manager.planMany(["1234567890", "2345678901"]);
   * for (const [id, p] of plans) console.log(id, p.nextAt);
   * ```
   */
  async planMany(ids: readonly string[]): Promise<Map<string, ChannelPlan>> {
    return planMany(this.#e, ids.filter((id) => {
      try {
        validateCredentialId(id);
        return true;
      } catch {
        return false;
      }
    }));
  }

  /** Forgets everything held in memory (tokens, credentials, backoff). The store is untouched. */
  clear(): void {
    this.#e.cache.clear();
    this.#e.credentials.clear();
    this.#e.health.clear();
  }
}
