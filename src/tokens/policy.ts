import { InvalidInputError } from "../core/errors.ts";
import type { TokenPolicyOverrides } from "../store/types.ts";

/**
 * A channel's token policy with every field resolved. Units are in the names.
 * Built only by {@link resolveTokenPolicy}, which validates once and freezes.
 */
export interface TokenPolicy {
  /** Lifetime asked of LINE (`token_exp`), seconds. */
  readonly lifetimeSeconds: number;
  /** Refresh point as a fraction of lifetime, jittered uniformly in [refreshMin, refreshMax]. */
  readonly refreshMin: number;
  readonly refreshMax: number;
  /** A token with less than this left is never handed out, seconds. */
  readonly minRemainingSeconds: number;
  /** A superseded token is revoked this long after its successor is stored, seconds. */
  readonly revokeGraceSeconds: number;
  /** At most this many live tokens of kagiya's own per channel (current + superseded in grace). */
  readonly maxLiveTokens: number;
}

/**
 * LINE's limits for channel access tokens v2.1 (LINE-FACTS.md).
 *
 * @example
 * ```ts
 * if (status.budgetUsed >= LINE_TOKEN_LIMITS.maxValidTokens) alert("token cap reached");
 * ```
 */
export const LINE_TOKEN_LIMITS = Object.freeze({
  /** Valid v2.1 tokens per channel, orphans included; LINE refuses a 31st. */
  maxValidTokens: 30,
  /** Longest lifetime LINE grants, seconds (30 days). */
  maxLifetimeSeconds: 30 * 24 * 3600,
});

/**
 * The documented defaults, in this one place. Every channel uses these unless its registry row
 * overrides a field.
 *
 * | field | default |
 * |---|---|
 * | lifetimeSeconds | 604800 (7 days; at most 2592000, 30 days) |
 * | refreshMin–refreshMax | 0.70–0.80 of lifetime, jittered per token |
 * | minRemainingSeconds | 300 (5 minutes) |
 * | revokeGraceSeconds | 600 (10 minutes) |
 * | maxLiveTokens | 3 |
 *
 * @example
 * ```ts
 * import { DEFAULT_TOKEN_POLICY } from "kagiya/tokens";
 * console.log(DEFAULT_TOKEN_POLICY.lifetimeSeconds / 86400); // 7
 * ```
 */
export const DEFAULT_TOKEN_POLICY: TokenPolicy = Object.freeze({
  lifetimeSeconds: 7 * 24 * 3600,
  refreshMin: 0.7,
  refreshMax: 0.8,
  minRemainingSeconds: 300,
  revokeGraceSeconds: 600,
  maxLiveTokens: 3,
});

const KEYS = Object.keys(DEFAULT_TOKEN_POLICY) as Array<keyof TokenPolicy>;

function bad(field: string, message: string): never {
  throw new InvalidInputError(`token policy: ${field} ${message}`, { field, code: "ERR_TOKEN_POLICY_INVALID" });
}

/**
 * Merges overrides over {@link DEFAULT_TOKEN_POLICY}, validates the result and freezes it.
 * Unknown fields and out-of-range values throw `InvalidInputError` (`ERR_TOKEN_POLICY_INVALID`).
 *
 * @example
 * ```ts
 * const policy = resolveTokenPolicy({ lifetimeSeconds: 86400 });
 * policy.refreshMin; // 0.7
 * ```
 */
export function resolveTokenPolicy(overrides: TokenPolicyOverrides | undefined = {}): TokenPolicy {
  for (const key of Object.keys(overrides ?? {})) {
    if (!KEYS.includes(key as keyof TokenPolicy)) bad(key, `is not a policy field (fields: ${KEYS.join(", ")})`);
  }
  const p: Record<string, number> = { ...DEFAULT_TOKEN_POLICY };
  for (const key of KEYS) {
    const v = (overrides as Record<string, unknown> | undefined)?.[key];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isFinite(v)) bad(key, "must be a finite number");
    p[key] = v;
  }
  const r = p as unknown as TokenPolicy;
  if (!Number.isInteger(r.lifetimeSeconds) || r.lifetimeSeconds < 60 || r.lifetimeSeconds > LINE_TOKEN_LIMITS.maxLifetimeSeconds) {
    bad("lifetimeSeconds", `must be a whole number of seconds from 60 to ${LINE_TOKEN_LIMITS.maxLifetimeSeconds} (30 days)`);
  }
  if (!(r.refreshMin > 0 && r.refreshMin <= r.refreshMax && r.refreshMax < 1)) bad("refreshMin/refreshMax", "must satisfy 0 < refreshMin <= refreshMax < 1");
  if (r.minRemainingSeconds < 0) bad("minRemainingSeconds", "must not be negative");
  if (r.lifetimeSeconds * (1 - r.refreshMax) <= r.minRemainingSeconds) {
    bad("minRemainingSeconds", "leaves no time between the refresh point and the end of the token's life; lower it or raise lifetimeSeconds");
  }
  if (r.revokeGraceSeconds < 0) bad("revokeGraceSeconds", "must not be negative");
  if (!Number.isInteger(r.maxLiveTokens) || r.maxLiveTokens < 1 || r.maxLiveTokens > LINE_TOKEN_LIMITS.maxValidTokens) {
    bad("maxLiveTokens", `must be a whole number from 1 to ${LINE_TOKEN_LIMITS.maxValidTokens}`);
  }
  return Object.freeze(r);
}

/**
 * The jittered refresh point of a token issued at `issuedAt` (epoch ms). `random` is in [0, 1).
 *
 * @example
 * ```ts
 * planRefreshAt(DEFAULT_TOKEN_POLICY, 0, 7 * 86400_000, 0.5); // 75 % of 7 days
 * ```
 */
export function planRefreshAt(policy: TokenPolicy, issuedAt: number, expiresAt: number, random: number): number {
  const fraction = policy.refreshMin + (policy.refreshMax - policy.refreshMin) * random;
  const planned = issuedAt + Math.floor((expiresAt - issuedAt) * fraction);
  // Never later than the last moment the token may be handed out.
  return Math.min(planned, expiresAt - policy.minRemainingSeconds * 1000);
}
