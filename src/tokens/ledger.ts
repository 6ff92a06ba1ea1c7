/**
 * For kinds whose provider caps and lists valid tokens (a {@link KeyLedger}, LINE v2.1): keeping
 * within the cap before asking, and reconciling the store against the provider's list (tokens it no
 * longer lists are marked revoked, IDs it lists that kagiya never stored are recorded as orphans).
 *
 * @module
 */
import type { TokenRow } from "../store/types.ts";
import type { CredentialEntry } from "./credentials.ts";
import { audit, upstreamCall, type Engine } from "./engine.ts";
import { NoLedgerError, TokenBudgetExhaustedError } from "./errors.ts";
import type { KeyLedger } from "./kind.ts";
import { keepAlive, LOCK_PREFIX, releaseLock } from "./locks.ts";
import { revokeQuietly } from "./revocation.ts";
import type { ReconcileReport } from "./types.ts";

/** While orphans are counted, maintenance asks the provider about them at most this often. */
const ORPHAN_RECHECK_MS = 3600 * 1000;

function live(rows: TokenRow[], now: number): TokenRow[] {
  return rows.filter((r) => r.state !== "revoked" && r.expiresAt > now);
}

/**
 * Refuses before the provider would (its cap, orphans included) and trims kagiya's own live tokens
 * to the policy by revoking superseded ones early. Called under the issue lock.
 */
export async function ensureBudget(e: Engine, entry: CredentialEntry, actor: string, now: number): Promise<void> {
  const id = entry.channel.channelId;
  const ledger = entry.kind.ledger;
  let rows = await e.store.listTokens(id);
  if (ledger !== undefined) {
    if (live(rows, now).length >= ledger.limit && rows.some((r) => r.state === "orphan" && r.expiresAt > now)) {
      // Orphans are counted for the longest life the provider grants; it may have let some go already.
      try {
        await reconcileLocked(e, entry, actor);
      } catch (error) {
        throw e.health.upstreamFailed(id, error);
      }
      rows = await e.store.listTokens(id);
    }
    const used = live(rows, now).length;
    if (used >= ledger.limit) {
      const error = new TokenBudgetExhaustedError(id, used, ledger.limit);
      e.health.of(id).capLimit = ledger.limit;
      e.health.fail(id, { code: error.code, message: error.message, retryAfterMs: null });
      throw error;
    }
  }
  if (entry.kind.revoke === undefined) return;
  // After this issue there will be one more of our own: make room by revoking superseded ones early.
  const own = live(rows, now).filter((r) => r.state === "valid" || r.state === "superseded");
  const superseded = own.filter((r) => r.state === "superseded" && r.accessToken !== null).sort((a, b) => a.issuedAt - b.issuedAt);
  let count = own.length;
  for (const r of superseded) {
    if (count < entry.policy.maxLiveTokens) break;
    if (await revokeQuietly(e, entry, e.registry.openAccessToken(r))) {
      await e.store.setTokenState(id, r.keyId, "revoked", null, e.now());
      await audit(e, "token.revoke", actor, id, r.keyId, `early: over ${entry.policy.maxLiveTokens} live tokens`);
      count--;
    }
  }
}

function requireLedger(entry: CredentialEntry): KeyLedger {
  const ledger = entry.kind.ledger;
  if (ledger === undefined) throw new NoLedgerError(entry.channel.channelId, entry.kind.name);
  return ledger;
}

/** Reconciles the store against the provider's list of valid key IDs. Called under the issue lock. */
export async function reconcileLocked(e: Engine, entry: CredentialEntry, actor: string): Promise<ReconcileReport> {
  const ledger = requireLedger(entry);
  const id = entry.channel.channelId;
  let listed = await upstreamCall(e, "kid", () => ledger.validKeyIds(entry.channel));
  const valid = new Set(listed);
  const now = e.now();
  const rows = await e.store.listTokens(id);
  const known = new Map(rows.map((r) => [r.keyId, r]));
  const markedRevoked: string[] = [];
  const orphans: string[] = [];
  let stillValid = listed;
  for (const r of rows) {
    if (r.state === "revoked" && valid.has(r.keyId) && r.accessToken !== null && r.expiresAt > now) {
      // kagiya gave this token up (the provider answered 401 for it, or a revoke failed) yet the
      // provider still counts it: revoke it for real so it stops using the budget.
      if (await revokeQuietly(e, entry, e.registry.openAccessToken(r))) stillValid = stillValid.filter((k) => k !== r.keyId);
      continue;
    }
    if (r.state === "revoked" || r.expiresAt <= now || valid.has(r.keyId)) continue;
    await e.store.setTokenState(id, r.keyId, "revoked", null, e.now());
    markedRevoked.push(r.keyId);
  }
  listed = stillValid;
  for (const keyId of listed) {
    const r = known.get(keyId);
    if (r !== undefined && r.state === "revoked") continue;
    if (r === undefined) {
      const until = now + ledger.orphanLifetimeMs;
      await e.store.putToken({ channelId: id, keyId, accessToken: null, generation: 0, state: "orphan", issuedAt: now, expiresAt: until, refreshAt: until, revokeAt: null, updatedAt: now });
      orphans.push(keyId);
    } else if (r.state === "orphan") {
      orphans.push(keyId);
    }
  }
  const health = e.health.of(id);
  health.checkKeyIds = false;
  health.lastReconcileAt = now;
  // Harmless when it fails: the next issue checks once more.
  await e.store.clearIssueIntent(id).catch(() => {});
  e.cache.forget(id, markedRevoked);
  const budgetUsed = listed.length;
  await audit(e, "token.reconcile", actor, id, null, `listed=${listed.length} revoked=${markedRevoked.length} orphans=${orphans.length}`);
  return { channelId: id, validKeyIds: [...listed], markedRevoked, orphans, budgetUsed, budgetLeft: Math.max(0, ledger.limit - budgetUsed) };
}

/** Orphans are counted for the provider's longest life at most; ask it (hourly at most) whether they are still valid. */
export async function reconcileOrphansIfDue(e: Engine, id: string, actor: string): Promise<void> {
  const now = e.now();
  const health = e.health.of(id);
  if (health.lastReconcileAt !== null && now - health.lastReconcileAt < ORPHAN_RECHECK_MS) return;
  if (now < health.retryAt) return;
  const rows = await e.store.listTokens(id);
  if (!rows.some((r) => r.state === "orphan" && r.expiresAt > now)) return;
  const entry = await e.credentials.load(id, now);
  if (entry.kind.ledger === undefined) return;
  const lock = await e.store.tryLock(LOCK_PREFIX + id, e.config.lockTtlMs);
  if (!lock) return; // someone is issuing; next time
  const stop = keepAlive(lock, e.config.lockTtlMs);
  try {
    await reconcileLocked(e, entry, actor);
  } catch (error) {
    throw e.health.upstreamFailed(id, error);
  } finally {
    stop();
    await releaseLock(lock, e.config.lockTtlMs);
  }
}
