/**
 * Giving tokens up: revoking at the provider (by request, after a 401, or when a superseded
 * token's grace ends). A kind without revocation lets its tokens lapse: they are retired in the
 * store only.
 *
 * @module
 */
import type { TokenRow } from "../store/types.ts";
import type { CredentialEntry } from "./credentials.ts";
import { audit, upstreamCall, type Engine } from "./engine.ts";
import { TokenNotFoundError } from "./errors.ts";
import type { MaintainChannelReport, RevokeReport } from "./options.ts";
import { classifyFailure } from "./upstream.ts";

/** Revokes at the provider; false when that failed. True at once for kinds whose tokens cannot be revoked. */
export async function revokeQuietly(e: Engine, entry: Pick<CredentialEntry, "kind" | "channel">, accessToken: string): Promise<boolean> {
  const revoke = entry.kind.revoke;
  if (revoke === undefined) return true;
  try {
    await upstreamCall(e, "revoke", () => revoke(entry.channel, accessToken));
    return true;
  } catch {
    return false;
  }
}

/** Revokes one token by key ID, or every live token with "all". */
export async function revoke(e: Engine, id: string, keyId: string | "all", actor: string): Promise<RevokeReport> {
  const entry = await e.credentials.load(id, e.now());
  const now = e.now();
  const rows = await e.store.listTokens(id);
  let targets: TokenRow[];
  if (keyId === "all") {
    targets = rows.filter((r) => r.state !== "revoked" && r.expiresAt > now);
  } else {
    const row = rows.find((r) => r.keyId === keyId);
    if (!row) throw new TokenNotFoundError(id, keyId);
    targets = [row];
  }
  const report: RevokeReport = { channelId: id, revoked: [], skipped: [] };
  const kindRevoke = entry.kind.revoke;
  for (const row of targets) {
    if (row.accessToken === null) {
      report.skipped.push({ keyId: row.keyId, reason: "orphan: kagiya never held this token, so it cannot revoke it; it counts until it expires", cause: "orphan" });
      continue;
    }
    if (kindRevoke === undefined) {
      report.skipped.push({ keyId: row.keyId, reason: `${entry.kind.name} tokens cannot be revoked; it lapses at ${new Date(row.expiresAt).toISOString()}`, cause: "unrevocable" });
      continue;
    }
    const token = e.registry.openAccessToken(row);
    try {
      await upstreamCall(e, "revoke", () => kindRevoke(entry.channel, token));
    } catch (error) {
      report.skipped.push({ keyId: row.keyId, reason: classifyFailure(error).message, cause: "failed" });
      continue;
    }
    await e.store.setTokenState(id, row.keyId, "revoked", null, e.now());
    report.revoked.push(row.keyId);
    await audit(e, "token.revoke", actor, id, row.keyId, keyId === "all" ? "revoke all" : "revoke");
  }
  e.cache.forget(id, report.revoked);
  return report;
}

/** The provider rejected a token (401): never serve it again, revoke it where possible. */
export async function invalidate(e: Engine, id: string, keyId: string, actor: string): Promise<void> {
  const rows = await e.store.listTokens(id);
  const row = rows.find((r) => r.keyId === keyId);
  if (!row || (row.state !== "valid" && row.state !== "superseded")) return;
  if (row.accessToken === null) {
    await e.store.setTokenState(id, keyId, "revoked", null, e.now());
  } else {
    // Never served again, but counted against the budget until the provider confirms the
    // revocation: a spurious 401 (a proxy in the way) leaves a token it still counts. If it cannot
    // be reached now, maintenance revokes it (its revokeAt is now).
    await e.store.setTokenState(id, keyId, "superseded", e.now(), e.now());
    const entry = await e.credentials.load(id, e.now()).catch(() => null);
    if (entry === null || (await revokeQuietly(e, entry, e.registry.openAccessToken(row)))) await e.store.setTokenState(id, keyId, "revoked", null, e.now());
  }
  const cur = await e.store.getCurrent(id);
  if (cur.token?.keyId === keyId) e.health.of(id).reason = "invalidated";
  await audit(e, "token.invalidate", actor, id, keyId, "the provider rejected the token (401)");
}

/** Revokes superseded tokens whose grace ended (called under the maintenance lock). */
export async function revokeDue(e: Engine, id: string, actor: string, report: MaintainChannelReport): Promise<void> {
  const now = e.now();
  const due = (await e.store.listTokens(id)).filter((r) => r.state === "superseded" && r.revokeAt !== null && r.revokeAt <= now);
  if (due.length === 0) return;
  const entry = await e.credentials.load(id, now);
  for (const r of due) {
    if (r.expiresAt <= now || r.accessToken === null) {
      await e.store.setTokenState(id, r.keyId, "revoked", null, e.now());
      continue;
    }
    if (await revokeQuietly(e, entry, e.registry.openAccessToken(r))) {
      await e.store.setTokenState(id, r.keyId, "revoked", null, e.now());
      await audit(e, "token.revoke", actor, id, r.keyId, entry.kind.revoke === undefined ? "superseded: retired (lapses at expiry)" : "superseded: grace ended");
      report.revoked.push(r.keyId);
    }
  }
}
