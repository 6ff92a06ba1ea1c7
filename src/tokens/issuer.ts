/**
 * Finding or issuing a credential's token: memory, then the store, then the provider, once per
 * refresh point across every process sharing the store (in-process single flight, the store's
 * issue lock, and `commitToken`'s generation compare-and-set, which is what keeps a stalled issuer
 * from overwriting a newer token).
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { KagiyaError } from "../core/errors.ts";
import { ChannelNotFoundError, StoreError } from "../store/errors.ts";
import type { CurrentToken, Lock, TokenRow } from "../store/types.ts";
import type { CredentialEntry } from "./credentials.ts";
import { audit, singleFlight, upstreamCall, type Engine } from "./engine.ts";
import { ReauthRequiredError, TokenBudgetExhaustedError, TokenUnavailableError } from "./errors.ts";
import { adoptGiven, commitWithGrant, flushPending, grantAfter, notifyTokens, obtainWithGrant, type Obtained } from "./grants.ts";
import type { GrantSecret, ObtainedToken } from "./kind.ts";
import { ensureBudget, reconcileLocked } from "./ledger.ts";
import { keepAlive, LOCK_PREFIX, releaseLock } from "./locks.ts";
import type { IssueReason } from "./options.ts";
import { planRefreshAt } from "./policy.ts";
import { revokeQuietly } from "./revocation.ts";
import { freezeToken, usableRow } from "./rows.ts";
import type { ManagedToken } from "./types.ts";
import { classifyFailure } from "./upstream.ts";

/**
 * A forced issue (manual) and who asked for it; null: only when needed. With `given`, nothing is
 * asked of the provider: that token (and grant), obtained elsewhere (an OAuth login), is stored.
 */
export type Force = { reason: IssueReason; actor: string; given?: ObtainedToken } | null;

/** Remembers a stored row as the credential's token and returns the token handed out. */
export function remember(e: Engine, id: string, generation: number, row: TokenRow, entry: CredentialEntry, now: number, until: number): ManagedToken {
  const token = e.cache.same(id, row.keyId, generation) ?? freezeToken(id, e.registry.openAccessToken(row), row);
  e.cache.put(id, generation, token, row, entry.policy, now, until);
  return token;
}

/** The credential's token: the stored one while it is usable and before its refresh point, else a new one. */
export async function resolve(e: Engine, id: string, force: Force, actor: string = e.config.actor): Promise<ManagedToken> {
  // A grant and token kept in memory while the store was failing are written before anything else.
  if (e.grants.pending.size > 0) await flushPending(e, id);
  // Both reads at once: one round trip (each batched with the other reads due) instead of two.
  const [entry, cur] = await Promise.all([e.credentials.load(id, e.now()), e.store.getCurrent(id)]);
  const now = e.now();
  const usable = usableRow(cur.token, entry.policy, now);
  if (force === null && usable !== null && now < usable.refreshAt) return remember(e, id, cur.generation, usable, entry, now, usable.refreshAt);
  const health = e.health.of(id);
  if (force === null && now < health.retryAt) {
    // Backing off: keep serving what is still valid; with nothing valid, fail at once.
    if (usable !== null) return remember(e, id, cur.generation, usable, entry, now, health.retryAt);
    throw e.health.unavailable(id);
  }
  const reason: IssueReason = force?.reason ?? (usable !== null ? "refresh" : (health.reason ?? "cold"));
  const issue = (): Promise<ManagedToken> => issueLocked(e, entry, cur, reason, force?.actor ?? actor, force !== null, force?.given);
  try {
    // With the memory cache on, get() is single-flight as a whole; with it off, only issuing is.
    return force === null && !e.config.cacheOn ? await singleFlight(e.flights, id, issue) : await issue();
  } catch (error) {
    // Checked again: the lock wait and the provider call may have used up what was left of it.
    const still = force === null && !(error instanceof ChannelNotFoundError) ? usableRow(usable, entry.policy, e.now()) : null;
    if (still !== null) return remember(e, id, cur.generation, still, entry, e.now(), Math.max(e.health.of(id).retryAt, e.now() + 1));
    throw error;
  }
}

async function issueLocked(e: Engine, entry: CredentialEntry, seen: CurrentToken, reason: IssueReason, actor: string, force: boolean, given?: ObtainedToken): Promise<ManagedToken> {
  const id = entry.channel.channelId;
  // With a valid token in hand, wait only briefly for another process's refresh: if its holder
  // is stuck, keep serving the valid token (and look again a little later) rather than block.
  const refreshing = !force && usableRow(seen.token, entry.policy, e.now()) !== null;
  let waited;
  try {
    waited = await waitForLock(e, id, force ? null : seen.generation, refreshing ? e.config.refreshWaitMs : e.config.lockWaitMs);
  } catch (error) {
    if (refreshing) {
      const h = e.health.of(id);
      h.retryAt = Math.max(h.retryAt, e.now() + e.config.refreshWaitMs);
    }
    throw error;
  }
  if ("row" in waited) return remember(e, id, waited.generation, waited.row, entry, e.now(), waited.row.refreshAt);
  const lock = waited;
  const stop = keepAlive(lock, e.config.lockTtlMs);
  try {
    // Read the credential afresh: it may have been removed, re-keyed or re-configured meanwhile.
    entry = await e.credentials.load(id, e.now(), true);
    const cur = await e.store.getCurrent(id);
    const now = e.now();
    const usable = usableRow(cur.token, entry.policy, now);
    if (!force && usable !== null && now < usable.refreshAt) return remember(e, id, cur.generation, usable, entry, now, usable.refreshAt);
    const health = e.health.of(id);
    // Another process may have met a failing provider moments ago: honour its backoff (and Retry-After).
    const shared = await e.store.getBackoff(id);
    if (!force && shared !== null && now < shared.retryAt) {
      health.retryAt = Math.max(health.retryAt, shared.retryAt);
      health.lastError = { at: now, code: shared.code, message: shared.message };
      throw e.health.unavailable(id);
    }
    try {
      if (entry.kind.ledger !== undefined && (health.checkKeyIds || (await e.store.getIssueIntent(id)) !== null)) {
        // The last attempt may have issued a token nobody stored: find it before asking again.
        try {
          await reconcileLocked(e, entry, actor);
        } catch (error) {
          throw e.health.upstreamFailed(id, error);
        }
      }
      await ensureBudget(e, entry, actor, now);
      const token = await issueAndCommit(e, entry, cur, reason, actor, given);
      if (shared !== null) await e.store.clearBackoff(id).catch(() => {});
      return token;
    } catch (error) {
      const h = e.health.peek(id);
      if (h !== undefined && h.lastError !== null && h.retryAt > e.now()) {
        await e.store.setBackoff(id, { retryAt: h.retryAt, code: h.lastError.code, message: h.lastError.message }).catch(() => {});
      }
      throw error;
    }
  } finally {
    stop();
    // A grant or token left waiting for the store is written before the lock goes: another process
    // would otherwise read the spent refresh token and send it again.
    await releaseLock(lock, e.config.lockTtlMs, e.grants.pending.has(id) ? () => flushPending(e, id) : undefined);
  }
}

/**
 * Takes the credential's issue lock. While another process holds it, polls the store: once a
 * newer usable token appears (generation moved past `seenGeneration`), returns it instead.
 */
export async function waitForLock(e: Engine, id: string, seenGeneration: number | null, maxWaitMs = e.config.lockWaitMs): Promise<Lock | { row: TokenRow; generation: number }> {
  const started = performance.now();
  let delay = 5;
  for (;;) {
    const lock = await e.store.tryLock(LOCK_PREFIX + id, e.config.lockTtlMs);
    if (lock) {
      const waited = performance.now() - started;
      if (waited > 1) e.observer.lockWait?.(id, waited);
      return lock;
    }
    if (performance.now() - started > maxWaitMs) {
      throw new TokenUnavailableError(id, e.now(), { code: "ERR_TOKEN_LOCK_TIMEOUT", message: `another process has held the issue lock for over ${Math.round(maxWaitMs)} ms` });
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 100);
    if (seenGeneration !== null) {
      const cur = await e.store.getCurrent(id);
      const entry = e.credentials.peek(id);
      const now = e.now();
      const usable = entry ? usableRow(cur.token, entry.policy, now) : null;
      if (cur.generation !== seenGeneration && usable !== null && now < usable.refreshAt) {
        e.observer.lockWait?.(id, performance.now() - started);
        return { row: usable, generation: cur.generation };
      }
    }
  }
}

async function obtain(e: Engine, entry: CredentialEntry, current: TokenRow | null, reason: IssueReason, grant: GrantSecret | null) {
  const { kind, channel, policy } = entry;
  if (kind.refresh !== undefined && reason === "refresh" && current !== null && current.accessToken !== null) {
    return kind.refresh(channel, { accessToken: e.registry.openAccessToken(current), keyId: current.keyId }, policy, grant);
  }
  return kind.obtain(channel, policy, grant);
}

async function issueAndCommit(e: Engine, entry: CredentialEntry, seen: CurrentToken, reason: IssueReason, actor: string, given?: ObtainedToken): Promise<ManagedToken> {
  const { channel, policy, kind } = entry;
  const id = channel.channelId;
  const generation = seen.generation;
  const health = e.health.of(id);
  const owner = `${process.pid}.${Math.random().toString(36).slice(2)}`;
  await e.store.setIssueIntent(id, { owner, at: e.now() });
  const startedAt = e.now();
  const t0 = performance.now();
  let obtained: Obtained;
  try {
    obtained = given !== undefined ? await adoptGiven(e, entry, given) : await obtainWithGrant(e, entry, (grant) => upstreamCall(e, "issue", () => obtain(e, entry, seen.token, reason, grant)));
  } catch (error) {
    if (error instanceof ReauthRequiredError) {
      // Only a new login can help: the provider is not asked again, and the store is looked at
      // again (for a login made elsewhere) after cacheCheckMs, not on every get().
      await e.store.clearIssueIntent(id, owner).catch(() => {});
      health.lastError = { at: e.now(), code: error.code, message: error.message };
      health.reauth = error.reason;
      health.retryAt = Math.max(health.retryAt, e.now() + e.config.cacheCheckMs);
      e.observer.failed?.(id, error.code);
      throw error;
    }
    const f = classifyFailure(error);
    if (f.ambiguous) health.checkKeyIds = true;
    else await e.store.clearIssueIntent(id, owner).catch(() => {});
    if (kind.ledger?.capReached(error)) {
      health.checkKeyIds = true;
      health.capLimit = kind.ledger.limit;
      e.health.fail(id, f);
      throw new TokenBudgetExhaustedError(id, kind.ledger.limit, kind.ledger.limit, { lineRefused: true });
    }
    throw e.health.upstreamFailed(id, error);
  }
  const issued = obtained.issued;
  const expiresAt = startedAt + issued.expiresIn * 1000;
  const now = e.now();
  const row: TokenRow = {
    channelId: id,
    keyId: issued.keyId,
    accessToken: null,
    generation: generation + 1,
    state: "valid",
    issuedAt: startedAt,
    expiresAt,
    refreshAt: planRefreshAt(policy, startedAt, expiresAt, e.random()),
    revokeAt: null,
    updatedAt: now,
  };
  let committed: boolean | "pending";
  const revokeAt = now + policy.revokeGraceSeconds * 1000;
  try {
    row.accessToken = e.registry.sealAccessToken(id, issued.keyId, issued.accessToken);
    // A grant kind's store failure keeps grant and token in memory ("pending") instead of throwing.
    committed = obtained.base !== null ? await commitWithGrant(e, id, { ...obtained, base: obtained.base }, row, generation, revokeAt) : await e.store.commitToken(id, generation, row, revokeAt);
  } catch (error) {
    // Kept only where it cannot go untracked if this process dies first: a kind with a ledger (a
    // reconcile finds it at the provider) or one whose tokens cannot be revoked anyway.
    const trackable = kind.ledger !== undefined || kind.revoke === undefined;
    if (!(error instanceof StoreError) || row.accessToken === null || !trackable) throw await dropUnstored(e, entry, issued, owner, actor, error);
    // The store failed to record a token the provider has issued: keep it for the store, as a
    // grant is kept, rather than revoke it and issue again. Our issue intent stays in the store
    // meanwhile, so a process that issues before the write lands reconciles first and records
    // ours (at LINE, against the cap); the write then finds the newer token and ours is revoked.
    e.grants.pending.set(id, { grant: null, token: { row, expectedGeneration: generation, supersededRevokeAt: revokeAt, settle: (ok) => settleKept(e, entry, row.keyId, issued.accessToken, owner, actor, ok) } });
    committed = "pending";
  }
  if (committed === false) {
    // Our lock expired while we were stalled and someone else stored a newer token. (A grant's
    // access token is left to lapse: some providers revoke the whole grant with it.)
    if (obtained.base === null && (await revokeQuietly(e, entry, issued.accessToken))) await settleRevoked(e, id, issued.keyId, owner);
    await audit(e, "token.revoke", actor, id, issued.keyId, "late write rejected: a newer token was stored meanwhile");
    const cur = await e.store.getCurrent(id);
    const usable = usableRow(cur.token, policy, e.now());
    if (usable !== null) return remember(e, id, cur.generation, usable, entry, e.now(), usable.refreshAt);
    throw new TokenUnavailableError(id, e.now(), { code: "ERR_TOKEN_CONFLICT", message: "another issuer stored a token that is no longer usable" });
  }
  // A token kept for the store keeps its intent until it is written (see settleKept).
  if (committed === true || obtained.base !== null) await e.store.clearIssueIntent(id, owner).catch(() => {});
  e.health.succeed(id, now);
  e.observer.issued?.(id, reason, performance.now() - t0);
  await audit(e, reason === "refresh" ? "token.refresh" : "token.issue", actor, id, issued.keyId, reason);
  const token = freezeToken(id, issued.accessToken, row);
  e.cache.put(id, generation + 1, token, row, policy, now);
  notifyTokens(e, id, token, grantAfter(obtained));
  return token;
}

/** A token we got but could not keep is revoked: if a reconcile recorded it as an orphan meanwhile, say so. */
async function settleRevoked(e: Engine, id: string, keyId: string, owner: string): Promise<void> {
  await e.store.clearIssueIntent(id, owner).catch(() => {});
  try {
    await e.store.setTokenState(id, keyId, "revoked", null, e.now());
  } catch {
    // No row (the usual case) or the store is failing: the next reconcile settles it.
  }
}

/** A new token that cannot be kept (sealing failed): revoked so it does not count; returns the error to throw. */
async function dropUnstored(e: Engine, entry: CredentialEntry, issued: ObtainedToken, owner: string, actor: string, error: unknown): Promise<unknown> {
  const id = entry.channel.channelId;
  if (await revokeQuietly(e, entry, issued.accessToken)) await settleRevoked(e, id, issued.keyId, owner);
  await audit(e, "token.revoke", actor, id, issued.keyId, "the new token could not be stored");
  e.health.fail(id, { code: (error as KagiyaError).code ?? "ERR_STORE", message: "the new token could not be stored", retryAfterMs: null });
  return error;
}

/**
 * A token kept in memory while the store failed has been written (or not): stored, or found to be
 * the current token already (the failed write had gone through), its intent is cleared; beaten by
 * a newer token another process stored meanwhile, it is revoked and its row (the orphan that
 * process's reconcile recorded) marked so; a revocation that fails leaves the intent for the next
 * reconcile. Never left untracked.
 */
async function settleKept(e: Engine, entry: CredentialEntry, keyId: string, accessToken: string, owner: string, actor: string, committed: boolean): Promise<void> {
  const id = entry.channel.channelId;
  if (committed || (await e.store.getCurrent(id)).token?.keyId === keyId) {
    await e.store.clearIssueIntent(id, owner).catch(() => {});
    return;
  }
  e.cache.forget(id, [keyId]);
  if (await revokeQuietly(e, entry, accessToken)) await settleRevoked(e, id, keyId, owner);
  await audit(e, "token.revoke", actor, id, keyId, "kept while the store failed; a newer token was stored meanwhile");
}
