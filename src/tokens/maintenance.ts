/**
 * Housekeeping for the scheduler, and what it reads to plan: refresh at the refresh point,
 * reconcile orphans, revoke superseded tokens after their grace, prune long-expired rows; when a
 * credential next needs attention; its status for the dashboard and `token list`.
 *
 * @module
 */
import { KagiyaError } from "../core/errors.ts";
import { singleFlight, type Engine } from "./engine.ts";
import { flushPending } from "./grants.ts";
import { resolve } from "./issuer.ts";
import { reconcileOrphansIfDue } from "./ledger.ts";
import { keepAlive, MAINTAIN_LOCK_PREFIX, releaseLock } from "./locks.ts";
import type { ChannelPlan, MaintainChannelReport } from "./options.ts";
import { revokeDue } from "./revocation.ts";
import { countLive, PRUNE_AFTER_MS } from "./rows.ts";
import type { ChannelTokenStatus } from "./types.ts";
import type { TokenRow } from "../store/types.ts";

/** One credential's housekeeping; failures are reported, never thrown. */
export async function maintainCredential(e: Engine, id: string, actor: string): Promise<MaintainChannelReport> {
  const report: MaintainChannelReport = { channelId: id, refreshed: false, revoked: [], pruned: 0, error: null, nextAt: null };
  try {
    await flushPending(e, id);
    const before = await e.store.getCurrent(id);
    const now = e.now();
    if (before.token !== null && before.token.state === "valid" && now >= before.token.refreshAt && now >= e.health.of(id).retryAt) {
      // Through the same single flight as get(), but audited under the scheduler's actor.
      const t = await singleFlight(e.flights, id, () => resolve(e, id, null, actor));
      report.refreshed = t.keyId !== before.token.keyId;
    }
    await reconcileOrphansIfDue(e, id, actor);
    const lock = await e.store.tryLock(MAINTAIN_LOCK_PREFIX + id, e.config.lockTtlMs);
    if (lock) {
      const stop = keepAlive(lock, e.config.lockTtlMs);
      try {
        await revokeDue(e, id, actor, report);
        report.pruned = await e.store.pruneTokens(id, e.now() - PRUNE_AFTER_MS);
      } finally {
        stop();
        await releaseLock(lock, e.config.lockTtlMs);
      }
    }
  } catch (error) {
    report.error = error instanceof KagiyaError ? { code: error.code, message: error.message } : { code: "ERR_INTERNAL", message: "maintenance failed" };
  }
  try {
    report.nextAt = (await plan(e, id)).nextAt;
  } catch {
    report.nextAt = e.now() + e.config.cacheCheckMs;
  }
  return report;
}

/** When the credential next needs attention: refresh point, next revocation, end of a backoff. */
export async function plan(e: Engine, id: string): Promise<ChannelPlan> {
  const rows = await e.store.listTokens(id);
  const cur = await e.store.getCurrent(id);
  return planFrom(e, id, rows, cur.token);
}

/** Channels read at once (start-up): one store call per this many. */
const PLAN_BATCH = 1000;

/**
 * {@link plan} for many credentials, from a few bulk reads of the store (listTokensMany) instead
 * of two reads per credential: what a broker's start-up does, reading what is stored instead of
 * asking each credential in turn.
 */
export async function planMany(e: Engine, ids: readonly string[]): Promise<Map<string, ChannelPlan>> {
  const out = new Map<string, ChannelPlan>();
  for (let i = 0; i < ids.length; i += PLAN_BATCH) {
    const read = await e.store.listTokensMany(ids.slice(i, i + PLAN_BATCH));
    for (const [id, t] of read) out.set(id, planFrom(e, id, t.rows, t.token));
  }
  return out;
}

function planFrom(e: Engine, id: string, rows: readonly TokenRow[], currentRow: TokenRow | null): ChannelPlan {
  const current = currentRow !== null && currentRow.state === "valid" ? currentRow : null;
  const health = e.health.peek(id);
  const retryAt = health && health.retryAt > e.now() ? health.retryAt : null;
  let revokeDueAt: number | null = null;
  for (const r of rows) if (r.state === "superseded" && r.revokeAt !== null) revokeDueAt = revokeDueAt === null ? r.revokeAt : Math.min(revokeDueAt, r.revokeAt);
  const refreshAt = current?.refreshAt ?? null;
  // A credential without a token is issued on demand by get(), so nothing is planned for it.
  const refreshDue = refreshAt === null ? null : Math.max(refreshAt, retryAt ?? 0);
  const candidates = [refreshDue, revokeDueAt].filter((v): v is number => v !== null);
  return { channelId: id, refreshAt, revokeDueAt, retryAt, nextAt: candidates.length ? Math.min(...candidates) : null };
}

/** The credential's tokens (never their text), budget, last refresh and last error. */
export async function status(e: Engine, id: string): Promise<ChannelTokenStatus> {
  const now = e.now();
  const rows = await e.store.listTokens(id);
  const entry = await e.credentials.load(id, now).catch(() => undefined);
  const health = e.health.peek(id);
  const current = rows.find((r) => r.state === "valid");
  const stored = await e.store.getGrant(id);
  const pendingWrite = e.grants.pending.has(id);
  // A kind without grants keeps only its token pending: no grant to show for it.
  const grant = stored !== null ? { version: stored.version, status: stored.status, updatedAt: stored.updatedAt, pendingWrite } : e.grants.pending.get(id)?.grant ? { version: 0, status: "active" as const, updatedAt: null, pendingWrite } : null;
  return {
    channelId: id,
    kind: entry?.kind.name ?? null,
    tokens: rows.map((r) => ({ keyId: r.keyId, state: r.state, issuedAt: r.issuedAt, expiresAt: r.expiresAt, refreshAt: r.refreshAt, revokeAt: r.revokeAt })),
    budgetUsed: countLive(rows, now),
    budgetLimit: entry === undefined ? null : (entry.kind.ledger?.limit ?? null),
    lastRefreshAt: health?.lastRefreshAt ?? current?.issuedAt ?? null,
    lastError: health?.lastError ?? null,
    grant,
  };
}
