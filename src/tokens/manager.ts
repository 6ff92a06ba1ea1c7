/**
 * The TokenManager: owns the whole life of every channel access token v2.1 of every channel in a
 * store shared by any number of processes.
 *
 * How a token is found, in order:
 * 1. memory: a Map lookup and an expiry check (no await of its own);
 * 2. the store: the channel's current token row, its access token opened from its seal;
 * 3. LINE: only when no token is usable or the token's refresh point has passed.
 *
 * Issuing, across processes: single-flight inside the process, then `Store.tryLock` so that other
 * processes wait instead of issuing too. The lock only prevents duplicate calls; correctness rests
 * on `Store.commitToken`'s generation compare-and-set: an issuer whose lock expired while it was
 * stalled finds the generation moved on, revokes the token it got, and serves the newer one.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import { KagiyaError } from "../core/errors.ts";
import { ChannelNotFoundError } from "../store/errors.ts";
import { validateChannelId, type Channel, type ChannelRegistry } from "../store/registry.ts";
import type { CurrentToken, Lock, Store, TokenRow } from "../store/types.ts";
import { TokenBudgetExhaustedError, TokenNotFoundError, TokenUnavailableError } from "./errors.ts";
import { LINE_TOKEN_LIMITS, planRefreshAt, resolveTokenPolicy, type TokenPolicy } from "./policy.ts";
import type { ChannelTokenStatus, ManagedToken, ReconcileReport, TokenObserver, TokenSource } from "./types.ts";
import { lineTokenApi } from "./line.ts";
import { keepAlive, LOCK_PREFIX, MAINTAIN_LOCK_PREFIX } from "./locks.ts";
import type { ActorOptions, ChannelPlan, IssueReason, MaintainChannelReport, RevokeReport, TokenManagerOptions } from "./options.ts";
import { countLive, freezeToken, ORPHAN_LIFETIME_MS, PRUNE_AFTER_MS, usableRow } from "./rows.ts";
import { classifyFailure, type LineTokenApi, type UpstreamFailure } from "./upstream.ts";

export type { ActorOptions, ChannelPlan, IssueReason, MaintainChannelReport, RevokeReport, TokenManagerOptions } from "./options.ts";

interface CacheEntry {
  readonly token: ManagedToken;
  readonly promise: Promise<ManagedToken>;
  readonly generation: number;
  /** The hot path serves the entry while now < freshUntil. */
  freshUntil: number;
  /** Last moment the token may be handed out at all (expiry minus the minimum remaining). */
  readonly serveUntil: number;
}

interface Health {
  failures: number;
  /** No request to LINE for this channel before this time. */
  retryAt: number;
  lastError: { at: number; code: string; message: string } | null;
  lastRefreshAt: number | null;
  /** An issue attempt failed ambiguously: list valid key IDs before the next one. */
  checkKeyIds: boolean;
  reason: IssueReason | null;
  lastReconcileAt: number | null;
}

interface ChannelEntry {
  channel: Channel;
  policy: TokenPolicy;
  loadedAt: number;
  updatedAt: number;
}

/** Meta name of the issue-in-flight marker: set before asking LINE, cleared once the outcome is known. */
const INTENT_PREFIX = "tokens.issuing.";
/** Meta name of a channel's backoff, shared so that every process honours one failure's Retry-After. */
const BACKOFF_PREFIX = "tokens.backoff.";
/** While orphans are counted, maintain() asks LINE about them at most this often. */
const ORPHAN_RECHECK_MS = 3600 * 1000;

/**
 * Issues, stores, serves, refreshes, revokes and reconciles LINE channel access tokens v2.1.
 * Implements {@link TokenSource}.
 *
 * @example
 * ```ts
 * import { TokenManager, lineTokenApi } from "kagiya/tokens";
 * const store = await openStore("sqlite:./kagiya.db");
 * const registry = await ChannelRegistry.open(store, new Sealer(loadMasterKey(process.env)));
 * const manager = new TokenManager({ registry }); // LINE at KAGIYA_LINE_API_BASE or https://api.line.me
 * const { accessToken } = await manager.get("1234567890");
 * ```
 */
export class TokenManager implements TokenSource {
  readonly #registry: ChannelRegistry;
  readonly #store: Store;
  readonly #line: LineTokenApi;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #actor: string;
  readonly #cacheOn: boolean;
  readonly #cacheCheckMs: number;
  readonly #invalidating = new Map<string, Promise<void>>();
  readonly #lockTtlMs: number;
  readonly #lockWaitMs: number;
  readonly #refreshWaitMs: number;
  readonly #backoffBaseMs: number;
  readonly #backoffMaxMs: number;
  readonly #observer: TokenObserver;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #flights = new Map<string, Promise<ManagedToken>>();
  readonly #health = new Map<string, Health>();
  readonly #channels = new Map<string, ChannelEntry>();

  constructor(options: TokenManagerOptions) {
    this.#registry = options.registry;
    this.#store = options.registry.store;
    this.#now = options.now ?? Date.now;
    this.#line = options.line ?? lineTokenApi({ ...(options.lineApiBase !== undefined ? { baseUrl: options.lineApiBase } : {}), now: this.#now });
    this.#random = options.random ?? Math.random;
    this.#actor = options.actor ?? "library";
    this.#cacheOn = options.cache ?? true;
    this.#cacheCheckMs = options.cacheCheckMs ?? 5_000;
    this.#lockTtlMs = options.lockTtlMs ?? 30_000;
    this.#lockWaitMs = options.lockWaitMs ?? this.#lockTtlMs + 5_000;
    this.#refreshWaitMs = options.refreshWaitMs ?? 2_000;
    this.#backoffBaseMs = options.backoffBaseMs ?? 1_000;
    this.#backoffMaxMs = options.backoffMaxMs ?? 300_000;
    this.#observer = options.observer ?? {};
  }

  /**
   * A valid token for the channel. From memory when it can be (no await of its own), else from
   * the store, else issued once for every caller in every process sharing the store. While LINE
   * fails, a token that is still valid keeps being served; when none is, this rejects at once with
   * {@link TokenUnavailableError} until the backoff ends.
   *
   * @example
   * ```ts
   * const token = await manager.get("1234567890");
   * await fetch(url, { headers: { authorization: `Bearer ${token.accessToken}` } });
   * ```
   */
  get(channelId: string): Promise<ManagedToken> {
    const e = this.#cache.get(channelId);
    if (e !== undefined && this.#now() < e.freshUntil) return e.promise;
    return this.#cacheOn ? this.#flight(channelId, () => this.#resolveOrKeep(channelId)) : this.#resolve(channelId, null);
  }

  /**
   * The token {@link get} would answer from memory now, synchronously; undefined when get()
   * would read the store or call LINE (then call get()).
   *
   * @example
   * ```ts
   * const token = manager.peek("1234567890") ?? (await manager.get("1234567890"));
   * ```
   */
  peek(channelId: string): ManagedToken | undefined {
    const e = this.#cache.get(channelId);
    return e !== undefined && this.#now() < e.freshUntil ? e.token : undefined;
  }

  /** Like #resolve, but when the store itself fails, a token still in memory keeps being served. */
  async #resolveOrKeep(channelId: string): Promise<ManagedToken> {
    try {
      return await this.#resolve(channelId, null);
    } catch (error) {
      const e = this.#cache.get(channelId);
      const now = this.#now();
      if (e === undefined || now >= e.serveUntil || error instanceof ChannelNotFoundError) throw error;
      e.freshUntil = Math.min(e.serveUntil, now + 1_000);
      return e.token;
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
  issue(channelId: string, options: ActorOptions = {}): Promise<ManagedToken> {
    return this.#resolve(channelId, { reason: "manual", actor: options.actor ?? this.#actor });
  }

  /**
   * LINE rejected this token (401): forget it. The next get() issues, at most once however many
   * callers report the same key ID.
   *
   * @example
   * ```ts
   * if (res.status === 401) { await manager.invalidate(id, token.keyId); token = await manager.get(id); }
   * ```
   */
  async invalidate(channelId: string, keyId: string, options: ActorOptions = {}): Promise<void> {
    const e = this.#cache.get(channelId);
    if (e !== undefined && e.token.keyId === keyId) this.#cache.delete(channelId);
    validateChannelId(channelId);
    // Many callers report the same 401 at once: one store update and one revocation between them.
    const flight = `${channelId}/${keyId}`;
    let p = this.#invalidating.get(flight);
    if (p === undefined) {
      p = this.#invalidate(channelId, keyId, options.actor ?? this.#actor).finally(() => this.#invalidating.delete(flight));
      this.#invalidating.set(flight, p);
    }
    return p;
  }

  async #invalidate(channelId: string, keyId: string, actor: string): Promise<void> {
    const rows = await this.#store.listTokens(channelId);
    const row = rows.find((r) => r.keyId === keyId);
    if (!row || (row.state !== "valid" && row.state !== "superseded")) return;
    if (row.accessToken === null) {
      await this.#store.setTokenState(channelId, keyId, "revoked", null);
    } else {
      // Never served again, but counted against the budget until LINE confirms the revocation: a
      // spurious 401 (a proxy in the way) leaves a token LINE still counts. If LINE cannot be
      // reached now, maintenance revokes it (its revokeAt is now).
      await this.#store.setTokenState(channelId, keyId, "superseded", this.#now());
      const entry = await this.#channel(channelId).catch(() => null);
      if (entry === null) await this.#store.setTokenState(channelId, keyId, "revoked", null);
      else if (await this.#revokeQuietly(entry.channel, this.#registry.openAccessToken(row))) await this.#store.setTokenState(channelId, keyId, "revoked", null);
    }
    const cur = await this.#store.getCurrent(channelId);
    if (cur.token?.keyId === keyId) this.#healthOf(channelId).reason = "invalidated";
    await this.#audit("token.invalidate", actor, channelId, keyId, "LINE rejected the token (401)");
  }

  /**
   * Revokes one token by key ID, or every token kagiya holds for the channel with `"all"`.
   *
   * @example
   * ```ts
   * await manager.revoke("1234567890", "all", { actor: "cli" });
   * ```
   */
  async revoke(channelId: string, keyId: string | "all", options: ActorOptions = {}): Promise<RevokeReport> {
    validateChannelId(channelId);
    const channel = (await this.#channel(channelId)).channel;
    const actor = options.actor ?? this.#actor;
    const now = this.#now();
    const rows = await this.#store.listTokens(channelId);
    let targets: TokenRow[];
    if (keyId === "all") {
      targets = rows.filter((r) => r.state !== "revoked" && r.expiresAt > now);
    } else {
      const row = rows.find((r) => r.keyId === keyId);
      if (!row) throw new TokenNotFoundError(channelId, keyId);
      targets = [row];
    }
    const report: RevokeReport = { channelId, revoked: [], skipped: [] };
    for (const row of targets) {
      if (row.accessToken === null) {
        report.skipped.push({ keyId: row.keyId, reason: "orphan: kagiya never held this token, so it cannot revoke it; it counts until it expires" });
        continue;
      }
      const token = this.#registry.openAccessToken(row);
      const t0 = performance.now();
      try {
        await this.#line.revoke(channel, token);
        this.#observer.upstream?.("revoke", 200, performance.now() - t0);
      } catch (error) {
        const f = classifyFailure(error);
        this.#observer.upstream?.("revoke", (error as { status?: number }).status ?? 0, performance.now() - t0);
        report.skipped.push({ keyId: row.keyId, reason: f.message });
        continue;
      }
      await this.#store.setTokenState(channelId, row.keyId, "revoked", null);
      report.revoked.push(row.keyId);
      await this.#audit("token.revoke", actor, channelId, row.keyId, keyId === "all" ? "revoke all" : "revoke");
    }
    const e = this.#cache.get(channelId);
    if (e !== undefined && report.revoked.includes(e.token.keyId)) this.#cache.delete(channelId);
    return report;
  }

  /**
   * Asks LINE for the channel's valid key IDs; marks stored tokens LINE no longer lists revoked;
   * records key IDs LINE lists that the store does not know as orphans (they count against the
   * budget until they expire); reports the budget left.
   *
   * @example
   * ```ts
   * const r = await manager.reconcile("1234567890");
   * console.log(r.orphans, r.budgetLeft);
   * ```
   */
  async reconcile(channelId: string, options: ActorOptions = {}): Promise<ReconcileReport> {
    validateChannelId(channelId);
    const entry = await this.#channel(channelId);
    // Under the issue lock, so a token being issued elsewhere is not mistaken for an orphan.
    const lock = await this.#waitForLock(channelId, null);
    try {
      return await this.#reconcileLocked(entry, options.actor ?? this.#actor);
    } finally {
      if ("release" in lock) await lock.release().catch(() => {});
    }
  }

  /**
   * Housekeeping for one channel, for the server's scheduler: refreshes the current token once
   * its refresh point has passed (channels without a token are left for get() to issue on
   * demand), revokes superseded tokens whose grace ended, prunes rows long expired. Resolves to
   * when the channel next needs attention (epoch ms on the manager's clock; null: nothing planned).
   * Failures are recorded in status(), never thrown.
   *
   * @example
   * ```ts
   * const next = await manager.maintain("1234567890", { actor: "scheduler" });
   * ```
   */
  async maintain(channelId: string, options: ActorOptions = {}): Promise<number | null> {
    return (await this.maintainChannel(channelId, options)).nextAt;
  }

  /**
   * {@link maintain} for every registered channel (or those named), one after the other.
   *
   * @example
   * ```ts
   * for (const r of await manager.maintainAll()) if (r.error) console.warn(r.channelId, r.error.code);
   * ```
   */
  async maintainAll(options: ActorOptions & { channels?: string[] } = {}): Promise<MaintainChannelReport[]> {
    const ids = options.channels ?? (await this.#store.listChannels()).map((c) => c.channelId);
    const reports: MaintainChannelReport[] = [];
    for (const channelId of ids) reports.push(await this.maintainChannel(channelId, options));
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
  async maintainChannel(channelId: string, options: ActorOptions = {}): Promise<MaintainChannelReport> {
    const actor = options.actor ?? "scheduler";
    const report: MaintainChannelReport = { channelId, refreshed: false, revoked: [], pruned: 0, error: null, nextAt: null };
    try {
      validateChannelId(channelId);
      const before = await this.#store.getCurrent(channelId);
      const now = this.#now();
      if (before.token !== null && before.token.state === "valid" && now >= before.token.refreshAt && now >= this.#healthOf(channelId).retryAt) {
        // Through the same single flight as get(), but audited under the scheduler's actor.
        const t = await this.#flight(channelId, () => this.#resolve(channelId, null, actor));
        report.refreshed = t.keyId !== before.token.keyId;
      }
      await this.#reconcileOrphansIfDue(channelId, actor);
      const lock = await this.#store.tryLock(MAINTAIN_LOCK_PREFIX + channelId, this.#lockTtlMs);
      if (lock) {
        const stop = keepAlive(lock, this.#lockTtlMs);
        try {
          await this.#revokeDue(channelId, actor, report);
          report.pruned = await this.#store.pruneTokens(channelId, this.#now() - PRUNE_AFTER_MS);
        } finally {
          stop();
          await lock.release().catch(() => {});
        }
      }
    } catch (error) {
      report.error = error instanceof KagiyaError ? { code: error.code, message: error.message } : { code: "ERR_INTERNAL", message: "maintenance failed" };
    }
    try {
      report.nextAt = (await this.plan(channelId)).nextAt;
    } catch {
      report.nextAt = this.#now() + this.#cacheCheckMs;
    }
    return report;
  }

  /**
   * The channel's tokens (never their text), budget, last refresh and last error.
   *
   * @example
   * ```ts
   * const s = await manager.status("1234567890");
   * console.log(`${s.budgetUsed}/${s.budgetLimit}`);
   * ```
   */
  async status(channelId: string): Promise<ChannelTokenStatus> {
    validateChannelId(channelId);
    const now = this.#now();
    const rows = await this.#store.listTokens(channelId);
    const health = this.#health.get(channelId);
    const current = rows.find((r) => r.state === "valid");
    return {
      channelId,
      tokens: rows.map((r) => ({ keyId: r.keyId, state: r.state, issuedAt: r.issuedAt, expiresAt: r.expiresAt, refreshAt: r.refreshAt })),
      budgetUsed: countLive(rows, now),
      budgetLimit: LINE_TOKEN_LIMITS.maxValidTokens,
      lastRefreshAt: health?.lastRefreshAt ?? current?.issuedAt ?? null,
      lastError: health?.lastError ?? null,
    };
  }

  /**
   * The current token's refresh point (epoch ms), or null when there is no usable token.
   *
   * @example
   * ```ts
   * const at = await manager.refreshAt("1234567890");
   * ```
   */
  async refreshAt(channelId: string): Promise<number | null> {
    return (await this.plan(channelId)).refreshAt;
  }

  /**
   * When the channel next needs attention: refresh point, next superseded-token revocation, and
   * the end of a backoff.
   *
   * @example
   * ```ts
   * const { nextAt } = await manager.plan("1234567890");
   * if (nextAt !== null) setTimeout(() => manager.maintain({ channels: ["1234567890"] }), nextAt - Date.now());
   * ```
   */
  async plan(channelId: string): Promise<ChannelPlan> {
    validateChannelId(channelId);
    const rows = await this.#store.listTokens(channelId);
    const cur = await this.#store.getCurrent(channelId);
    const current = cur.token !== null && cur.token.state === "valid" ? cur.token : null;
    const health = this.#health.get(channelId);
    const retryAt = health && health.retryAt > this.#now() ? health.retryAt : null;
    let revokeDueAt: number | null = null;
    for (const r of rows) if (r.state === "superseded" && r.revokeAt !== null) revokeDueAt = revokeDueAt === null ? r.revokeAt : Math.min(revokeDueAt, r.revokeAt);
    const refreshAt = current?.refreshAt ?? null;
    // A channel without a token is issued on demand by get(), so nothing is planned for it.
    const refreshDue = refreshAt === null ? null : Math.max(refreshAt, retryAt ?? 0);
    const candidates = [refreshDue, revokeDueAt].filter((v): v is number => v !== null);
    return { channelId, refreshAt, revokeDueAt, retryAt, nextAt: candidates.length ? Math.min(...candidates) : null };
  }

  /** Forgets everything held in memory (tokens, channels, backoff). The store is untouched. */
  clear(): void {
    this.#cache.clear();
    this.#channels.clear();
    this.#health.clear();
  }

  // ---------------------------------------------------------------------------------------------

  #flight(channelId: string, run: () => Promise<ManagedToken>): Promise<ManagedToken> {
    let p = this.#flights.get(channelId);
    if (p === undefined) {
      p = run().finally(() => this.#flights.delete(channelId));
      this.#flights.set(channelId, p);
    }
    return p;
  }

  async #resolve(channelId: string, force: { reason: IssueReason; actor: string } | null, actor: string = this.#actor): Promise<ManagedToken> {
    validateChannelId(channelId);
    const entry = await this.#channel(channelId);
    const cur = await this.#store.getCurrent(channelId);
    const now = this.#now();
    const usable = usableRow(cur.token, entry.policy, now);
    if (force === null && usable !== null && now < usable.refreshAt) return this.#remember(channelId, cur.generation, usable, entry.policy, now, usable.refreshAt);
    const health = this.#healthOf(channelId);
    if (force === null && now < health.retryAt) {
      // Backing off: keep serving what is still valid; with nothing valid, fail at once.
      if (usable !== null) return this.#remember(channelId, cur.generation, usable, entry.policy, now, health.retryAt);
      throw this.#unavailable(channelId, health);
    }
    const reason: IssueReason = force?.reason ?? (usable !== null ? "refresh" : (health.reason ?? "cold"));
    const issue = (): Promise<ManagedToken> => this.#issueLocked(entry, cur, reason, force?.actor ?? actor, force !== null);
    try {
      // With the memory cache on, get() is single-flight as a whole; with it off, only issuing is.
      return force === null && !this.#cacheOn ? await this.#flight(channelId, issue) : await issue();
    } catch (error) {
      // Checked again: the lock wait and the call to LINE may have used up what was left of it.
      const still = force === null && !(error instanceof ChannelNotFoundError) ? usableRow(usable, entry.policy, this.#now()) : null;
      if (still !== null) {
        const h = this.#healthOf(channelId);
        return this.#remember(channelId, cur.generation, still, entry.policy, this.#now(), Math.max(h.retryAt, this.#now() + 1));
      }
      throw error;
    }
  }

  async #issueLocked(entry: ChannelEntry, seen: CurrentToken, reason: IssueReason, actor: string, force: boolean): Promise<ManagedToken> {
    const channelId = entry.channel.channelId;
    // With a valid token in hand, wait only briefly for another process's refresh: if its holder
    // is stuck, keep serving the valid token (and look again a little later) rather than block.
    const refreshing = !force && usableRow(seen.token, entry.policy, this.#now()) !== null;
    let waited;
    try {
      waited = await this.#waitForLock(channelId, force ? null : seen.generation, refreshing ? this.#refreshWaitMs : this.#lockWaitMs);
    } catch (error) {
      if (refreshing) {
        const h = this.#healthOf(channelId);
        h.retryAt = Math.max(h.retryAt, this.#now() + this.#refreshWaitMs);
      }
      throw error;
    }
    if ("row" in waited) return this.#remember(channelId, waited.generation, waited.row, entry.policy, this.#now(), waited.row.refreshAt);
    const lock = waited;
    const stop = keepAlive(lock, this.#lockTtlMs);
    try {
      // Read the channel afresh: it may have been removed, re-keyed or re-configured meanwhile.
      entry = await this.#channel(channelId, true);
      const cur = await this.#store.getCurrent(channelId);
      const now = this.#now();
      const usable = usableRow(cur.token, entry.policy, now);
      if (!force && usable !== null && now < usable.refreshAt) return this.#remember(channelId, cur.generation, usable, entry.policy, now, usable.refreshAt);
      const health = this.#healthOf(channelId);
      // Another process may have met a failing LINE moments ago: honour its backoff (and Retry-After).
      const shared = await this.#readSharedBackoff(channelId);
      if (!force && shared !== null && now < shared.retryAt) {
        health.retryAt = Math.max(health.retryAt, shared.retryAt);
        health.lastError = { at: now, code: shared.code, message: shared.message };
        throw this.#unavailable(channelId, health);
      }
      try {
        if (health.checkKeyIds || (await this.#store.getMeta(INTENT_PREFIX + channelId))) {
          // The last attempt may have issued a token nobody stored: find it before asking again.
          try {
            await this.#reconcileLocked(entry, actor);
          } catch (error) {
            throw this.#upstreamFailed(channelId, error);
          }
        }
        await this.#ensureBudget(entry, actor, now);
        const token = await this.#issueAndCommit(entry, cur.generation, reason, actor);
        if (shared !== null) await this.#store.setMeta(BACKOFF_PREFIX + channelId, "").catch(() => {});
        return token;
      } catch (error) {
        const h = this.#health.get(channelId);
        if (h !== undefined && h.lastError !== null && h.retryAt > this.#now()) {
          const value = JSON.stringify({ retryAt: h.retryAt, code: h.lastError.code, message: h.lastError.message });
          await this.#store.setMeta(BACKOFF_PREFIX + channelId, value).catch(() => {});
        }
        throw error;
      }
    } finally {
      stop();
      await lock.release().catch(() => {});
    }
  }

  /**
   * Takes the channel's issue lock. While another process holds it, polls the store: once a
   * newer usable token appears (generation moved past `seenGeneration`), returns it instead.
   */
  async #waitForLock(channelId: string, seenGeneration: number | null, maxWaitMs = this.#lockWaitMs): Promise<Lock | { row: TokenRow; generation: number }> {
    const started = performance.now();
    let delay = 5;
    for (;;) {
      const lock = await this.#store.tryLock(LOCK_PREFIX + channelId, this.#lockTtlMs);
      if (lock) {
        const waited = performance.now() - started;
        if (waited > 1) this.#observer.lockWait?.(channelId, waited);
        return lock;
      }
      if (performance.now() - started > maxWaitMs) {
        throw new TokenUnavailableError(channelId, this.#now(), { code: "ERR_TOKEN_LOCK_TIMEOUT", message: `another process has held the issue lock for over ${Math.round(maxWaitMs)} ms` });
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 100);
      if (seenGeneration !== null) {
        const cur = await this.#store.getCurrent(channelId);
        const entry = this.#channels.get(channelId);
        const now = this.#now();
        const usable = entry ? usableRow(cur.token, entry.policy, now) : null;
        if (cur.generation !== seenGeneration && usable !== null && now < usable.refreshAt) {
          this.#observer.lockWait?.(channelId, performance.now() - started);
          return { row: usable, generation: cur.generation };
        }
      }
    }
  }

  async #issueAndCommit(entry: ChannelEntry, generation: number, reason: IssueReason, actor: string): Promise<ManagedToken> {
    const { channel, policy } = entry;
    const channelId = channel.channelId;
    const health = this.#healthOf(channelId);
    const intent = JSON.stringify({ at: this.#now(), pid: process.pid });
    await this.#store.setMeta(INTENT_PREFIX + channelId, intent);
    const startedAt = this.#now();
    const t0 = performance.now();
    let issued;
    try {
      issued = await this.#line.issue(channel, policy.lifetimeSeconds);
      this.#observer.upstream?.("issue", 200, performance.now() - t0);
    } catch (error) {
      this.#observer.upstream?.("issue", (error as { status?: number }).status ?? 0, performance.now() - t0);
      const f = classifyFailure(error);
      if (f.ambiguous) health.checkKeyIds = true;
      else await this.#clearIntent(channelId, intent);
      if (f.capReached) {
        health.checkKeyIds = true;
        this.#recordFailure(channelId, f);
        throw new TokenBudgetExhaustedError(channelId, LINE_TOKEN_LIMITS.maxValidTokens, LINE_TOKEN_LIMITS.maxValidTokens, { lineRefused: true });
      }
      throw this.#upstreamFailed(channelId, error);
    }
    const expiresAt = startedAt + issued.expiresIn * 1000;
    const now = this.#now();
    const row: TokenRow = {
      channelId,
      keyId: issued.keyId,
      accessToken: null,
      generation: generation + 1,
      state: "valid",
      issuedAt: startedAt,
      expiresAt,
      refreshAt: planRefreshAt(policy, startedAt, expiresAt, this.#random()),
      revokeAt: null,
      updatedAt: now,
    };
    let committed: boolean;
    try {
      row.accessToken = this.#registry.sealAccessToken(channelId, issued.keyId, issued.accessToken);
      committed = await this.#store.commitToken(channelId, generation, row, now + policy.revokeGraceSeconds * 1000);
    } catch (error) {
      // Never hand out a token the store does not know: revoke it so it does not count.
      if (await this.#revokeQuietly(channel, issued.accessToken)) await this.#settleRevoked(channelId, issued.keyId, intent);
      await this.#audit("token.revoke", actor, channelId, issued.keyId, "the new token could not be stored");
      this.#recordFailure(channelId, { code: (error as KagiyaError).code ?? "ERR_STORE", message: "the new token could not be stored", ambiguous: false, retryAfterMs: null, capReached: false });
      throw error;
    }
    if (!committed) {
      // Our lock expired while we were stalled and someone else stored a newer token.
      if (await this.#revokeQuietly(channel, issued.accessToken)) await this.#settleRevoked(channelId, issued.keyId, intent);
      await this.#audit("token.revoke", actor, channelId, issued.keyId, "late write rejected: a newer token was stored meanwhile");
      const cur = await this.#store.getCurrent(channelId);
      const usable = usableRow(cur.token, policy, this.#now());
      if (usable !== null) return this.#remember(channelId, cur.generation, usable, policy, this.#now(), usable.refreshAt);
      throw new TokenUnavailableError(channelId, this.#now(), { code: "ERR_TOKEN_CONFLICT", message: "another issuer stored a token that is no longer usable" });
    }
    await this.#clearIntent(channelId, intent);
    health.failures = 0;
    health.retryAt = 0;
    health.lastRefreshAt = now;
    health.reason = null;
    this.#observer.issued?.(channelId, reason, performance.now() - t0);
    await this.#audit(reason === "refresh" ? "token.refresh" : "token.issue", actor, channelId, issued.keyId, reason);
    const token = freezeToken(channelId, issued.accessToken, row);
    this.#cacheToken(channelId, generation + 1, token, row, policy, now);
    return token;
  }

  /** A token we got but could not keep is revoked: if a reconcile recorded it as an orphan meanwhile, say so. */
  async #settleRevoked(channelId: string, keyId: string, intent: string): Promise<void> {
    await this.#clearIntent(channelId, intent);
    try {
      await this.#store.setTokenState(channelId, keyId, "revoked", null);
    } catch {
      // No row (the usual case) or the store is failing: the next reconcile settles it.
    }
  }

  async #readSharedBackoff(channelId: string): Promise<{ retryAt: number; code: string; message: string } | null> {
    const text = await this.#store.getMeta(BACKOFF_PREFIX + channelId);
    if (!text) return null;
    try {
      const v = JSON.parse(text) as { retryAt?: unknown; code?: unknown; message?: unknown };
      if (typeof v.retryAt !== "number" || typeof v.code !== "string" || typeof v.message !== "string") return null;
      return { retryAt: v.retryAt, code: v.code, message: v.message };
    } catch {
      return null;
    }
  }

  async #clearIntent(channelId: string, intent: string): Promise<void> {
    try {
      // Leave a marker another issuer wrote meanwhile alone.
      if ((await this.#store.getMeta(INTENT_PREFIX + channelId)) === intent) await this.#store.setMeta(INTENT_PREFIX + channelId, "");
    } catch {
      // A marker left behind only costs one valid-key-IDs check before the next issue.
    }
  }

  async #revokeQuietly(channel: Channel, accessToken: string): Promise<boolean> {
    const t0 = performance.now();
    try {
      await this.#line.revoke(channel, accessToken);
      this.#observer.upstream?.("revoke", 200, performance.now() - t0);
      return true;
    } catch (error) {
      this.#observer.upstream?.("revoke", (error as { status?: number }).status ?? 0, performance.now() - t0);
      return false;
    }
  }

  /** Refuses before LINE would: 30 valid tokens, orphans included. Trims kagiya's own live tokens to the policy. */
  async #ensureBudget(entry: ChannelEntry, actor: string, now: number): Promise<void> {
    const channelId = entry.channel.channelId;
    let rows = await this.#store.listTokens(channelId);
    let live = rows.filter((r) => r.state !== "revoked" && r.expiresAt > now);
    if (live.length >= LINE_TOKEN_LIMITS.maxValidTokens && live.some((r) => r.state === "orphan")) {
      // Orphans are counted for the longest life LINE grants; LINE may have let some go already.
      try {
        await this.#reconcileLocked(entry, actor);
      } catch (error) {
        throw this.#upstreamFailed(channelId, error);
      }
      rows = await this.#store.listTokens(channelId);
      live = rows.filter((r) => r.state !== "revoked" && r.expiresAt > now);
    }
    if (live.length >= LINE_TOKEN_LIMITS.maxValidTokens) {
      const error = new TokenBudgetExhaustedError(channelId, live.length, LINE_TOKEN_LIMITS.maxValidTokens);
      this.#recordFailure(channelId, { code: error.code, message: error.message, ambiguous: false, retryAfterMs: null, capReached: true });
      throw error;
    }
    // After this issue there will be one more of our own: make room by revoking superseded ones early.
    const own = live.filter((r) => r.state === "valid" || r.state === "superseded");
    const superseded = own.filter((r) => r.state === "superseded" && r.accessToken !== null).sort((a, b) => a.issuedAt - b.issuedAt);
    let count = own.length;
    for (const r of superseded) {
      if (count < entry.policy.maxLiveTokens) break;
      if (await this.#revokeQuietly(entry.channel, this.#registry.openAccessToken(r))) {
        await this.#store.setTokenState(channelId, r.keyId, "revoked", null);
        await this.#audit("token.revoke", actor, channelId, r.keyId, `early: over ${entry.policy.maxLiveTokens} live tokens`);
        count--;
      }
    }
  }

  async #reconcileLocked(entry: ChannelEntry, actor: string): Promise<ReconcileReport> {
    const { channel } = entry;
    const channelId = channel.channelId;
    const t0 = performance.now();
    let listed: string[];
    try {
      listed = await this.#line.validKeyIds(channel);
      this.#observer.upstream?.("kid", 200, performance.now() - t0);
    } catch (error) {
      this.#observer.upstream?.("kid", (error as { status?: number }).status ?? 0, performance.now() - t0);
      throw error;
    }
    const valid = new Set(listed);
    const now = this.#now();
    const rows = await this.#store.listTokens(channelId);
    const known = new Map(rows.map((r) => [r.keyId, r]));
    const markedRevoked: string[] = [];
    const orphans: string[] = [];
    let stillValid = listed;
    for (const r of rows) {
      if (r.state === "revoked" && valid.has(r.keyId) && r.accessToken !== null && r.expiresAt > now) {
        // kagiya gave this token up (LINE answered 401 for it, or a revoke failed) yet LINE still
        // counts it: revoke it for real so it stops using the budget.
        if (await this.#revokeQuietly(channel, this.#registry.openAccessToken(r))) stillValid = stillValid.filter((k) => k !== r.keyId);
        continue;
      }
      if (r.state === "revoked" || r.expiresAt <= now || valid.has(r.keyId)) continue;
      await this.#store.setTokenState(channelId, r.keyId, "revoked", null);
      markedRevoked.push(r.keyId);
    }
    listed = stillValid;
    for (const keyId of listed) {
      const r = known.get(keyId);
      if (r !== undefined && r.state === "revoked") continue;
      if (r === undefined) {
        await this.#store.putToken({
          channelId, keyId, accessToken: null, generation: 0, state: "orphan",
          issuedAt: now, expiresAt: now + ORPHAN_LIFETIME_MS, refreshAt: now + ORPHAN_LIFETIME_MS, revokeAt: null, updatedAt: now,
        });
        orphans.push(keyId);
      } else if (r.state === "orphan") {
        orphans.push(keyId);
      }
    }
    const health = this.#healthOf(channelId);
    health.checkKeyIds = false;
    health.lastReconcileAt = now;
    try {
      await this.#store.setMeta(INTENT_PREFIX + channelId, "");
    } catch {
      // Harmless: the next issue checks once more.
    }
    const e = this.#cache.get(channelId);
    if (e !== undefined && markedRevoked.includes(e.token.keyId)) this.#cache.delete(channelId);
    const budgetUsed = listed.length;
    await this.#audit("token.reconcile", actor, channelId, null, `listed=${listed.length} revoked=${markedRevoked.length} orphans=${orphans.length}`);
    return { channelId, validKeyIds: [...listed], markedRevoked, orphans, budgetUsed, budgetLeft: Math.max(0, LINE_TOKEN_LIMITS.maxValidTokens - budgetUsed) };
  }

  /** Orphans are counted for 30 days at most; ask LINE (hourly at most) whether they are still valid. */
  async #reconcileOrphansIfDue(channelId: string, actor: string): Promise<void> {
    const now = this.#now();
    const health = this.#healthOf(channelId);
    if (health.lastReconcileAt !== null && now - health.lastReconcileAt < ORPHAN_RECHECK_MS) return;
    if (now < health.retryAt) return;
    const rows = await this.#store.listTokens(channelId);
    if (!rows.some((r) => r.state === "orphan" && r.expiresAt > now)) return;
    const lock = await this.#store.tryLock(LOCK_PREFIX + channelId, this.#lockTtlMs);
    if (!lock) return; // someone is issuing; next time
    const stop = keepAlive(lock, this.#lockTtlMs);
    try {
      await this.#reconcileLocked(await this.#channel(channelId), actor);
    } catch (error) {
      throw this.#upstreamFailed(channelId, error);
    } finally {
      stop();
      await lock.release().catch(() => {});
    }
  }

  async #revokeDue(channelId: string, actor: string, report: MaintainChannelReport): Promise<void> {
    const now = this.#now();
    const due = (await this.#store.listTokens(channelId)).filter((r) => r.state === "superseded" && r.revokeAt !== null && r.revokeAt <= now);
    if (due.length === 0) return;
    const channel = (await this.#channel(channelId)).channel;
    for (const r of due) {
      if (r.expiresAt <= now || r.accessToken === null) {
        await this.#store.setTokenState(channelId, r.keyId, "revoked", null);
        continue;
      }
      if (await this.#revokeQuietly(channel, this.#registry.openAccessToken(r))) {
        await this.#store.setTokenState(channelId, r.keyId, "revoked", null);
        await this.#audit("token.revoke", actor, channelId, r.keyId, "superseded: grace ended");
        report.revoked.push(r.keyId);
      }
    }
  }

  #remember(channelId: string, generation: number, row: TokenRow, policy: TokenPolicy, now: number, until: number): ManagedToken {
    const e = this.#cache.get(channelId);
    let token: ManagedToken;
    if (e !== undefined && e.token.keyId === row.keyId && e.generation === generation) token = e.token;
    else token = freezeToken(channelId, this.#registry.openAccessToken(row), row);
    this.#cacheToken(channelId, generation, token, row, policy, now, until);
    return token;
  }

  #cacheToken(channelId: string, generation: number, token: ManagedToken, row: TokenRow, policy: TokenPolicy, now: number, until = row.refreshAt): void {
    if (!this.#cacheOn) return;
    const serveUntil = row.expiresAt - policy.minRemainingSeconds * 1000;
    const freshUntil = Math.min(until, serveUntil, now + this.#cacheCheckMs);
    const e = this.#cache.get(channelId);
    if (e !== undefined && e.token === token) {
      e.freshUntil = freshUntil;
      return;
    }
    this.#cache.set(channelId, { token, promise: Promise.resolve(token), generation, freshUntil, serveUntil });
  }

  async #channel(channelId: string, fresh = false): Promise<ChannelEntry> {
    const now = this.#now();
    const e = this.#channels.get(channelId);
    if (!fresh && e !== undefined && now - e.loadedAt < this.#cacheCheckMs && now >= e.loadedAt) return e;
    const channel = await this.#registry.require(channelId);
    if (e !== undefined && e.updatedAt === channel.updatedAt) {
      e.loadedAt = now;
      return e;
    }
    const entry: ChannelEntry = { channel, policy: resolveTokenPolicy(channel.policy), loadedAt: now, updatedAt: channel.updatedAt };
    this.#channels.set(channelId, entry);
    return entry;
  }

  #healthOf(channelId: string): Health {
    let h = this.#health.get(channelId);
    if (h === undefined) {
      h = { failures: 0, retryAt: 0, lastError: null, lastRefreshAt: null, checkKeyIds: false, reason: null, lastReconcileAt: null };
      this.#health.set(channelId, h);
    }
    return h;
  }

  #recordFailure(channelId: string, f: UpstreamFailure): Health {
    const h = this.#healthOf(channelId);
    const now = this.#now();
    h.failures++;
    const backoff = Math.min(this.#backoffMaxMs, this.#backoffBaseMs * 2 ** Math.min(h.failures - 1, 30));
    const delay = f.retryAfterMs ?? backoff / 2 + (backoff / 2) * this.#random();
    h.retryAt = now + Math.ceil(delay);
    h.lastError = { at: now, code: f.code, message: f.message };
    this.#observer.failed?.(channelId, f.code);
    return h;
  }

  #upstreamFailed(channelId: string, error: unknown): KagiyaError {
    if (error instanceof TokenBudgetExhaustedError) return error;
    const f = classifyFailure(error);
    if (f.ambiguous) this.#healthOf(channelId).checkKeyIds = true;
    const h = this.#recordFailure(channelId, f);
    return new TokenUnavailableError(channelId, h.retryAt, f, { cause: error });
  }

  #unavailable(channelId: string, h: Health): KagiyaError {
    const code = h.lastError?.code;
    if (code === "ERR_TOKEN_BUDGET_EXHAUSTED" || code === "ERR_LINE_TOKEN_LIMIT") {
      return new TokenBudgetExhaustedError(channelId, LINE_TOKEN_LIMITS.maxValidTokens, LINE_TOKEN_LIMITS.maxValidTokens, { lineRefused: code === "ERR_LINE_TOKEN_LIMIT" });
    }
    return new TokenUnavailableError(channelId, h.retryAt, { code: h.lastError?.code ?? null, message: h.lastError?.message ?? "LINE is failing" });
  }

  async #audit(action: string, actor: string, channelId: string, keyId: string | null, detail: string): Promise<void> {
    try {
      await this.#store.appendAudit({ at: this.#now(), action, actor, channelId, keyId, detail });
    } catch {
      // The audit log never blocks token handling.
    }
  }
}
