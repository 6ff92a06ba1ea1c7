/**
 * Token rows as the TokenManager reads them: which one may be served, how many count against
 * the provider's cap, and the frozen token handed to callers.
 *
 * @module
 */
import type { TokenRow } from "../store/types.ts";
import type { TokenPolicy } from "./policy.ts";
import type { ManagedToken } from "./types.ts";

/** Rows are kept this long after they expire (for `token list`), then pruned by maintain(). */
export const PRUNE_AFTER_MS = 24 * 3600 * 1000;

/** The row when it is a valid token with its text and at least the minimum remaining life, else null. */
export function usableRow(row: TokenRow | null, policy: TokenPolicy, now: number): TokenRow | null {
  if (row === null || row.state !== "valid" || row.accessToken === null) return null;
  return now < row.expiresAt - policy.minRemainingSeconds * 1000 ? row : null;
}

/** Tokens that count against a provider's cap: not revoked and not expired (orphans included). */
export function countLive(rows: TokenRow[], now: number): number {
  let n = 0;
  for (const r of rows) if (r.state !== "revoked" && r.expiresAt > now) n++;
  return n;
}

/** The frozen token handed to callers. */
export function freezeToken(channelId: string, accessToken: string, row: TokenRow): ManagedToken {
  return Object.freeze({ channelId, accessToken, keyId: row.keyId, tokenType: "Bearer", issuedAt: row.issuedAt, expiresAt: row.expiresAt });
}
