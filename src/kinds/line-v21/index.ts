/**
 * Kind `line-v2.1`: LINE channel access tokens v2.1. Issued with a JWT assertion signed by the
 * channel's key, up to 30 days, revocable with the channel secret, at most 30 valid per channel
 * (the ledger the engine reconciles against `GET /oauth2/v2.1/tokens/kid`).
 *
 * @module
 */
import type { CredentialKind } from "../../tokens/kind.ts";
import { LINE_TOKEN_LIMITS, resolveTokenPolicy } from "../../tokens/policy.ts";
import type { LineTokenApi } from "../../tokens/upstream.ts";

/**
 * The v2.1 kind over LINE's token endpoints (`lineTokenApi(...)` in production, the emulator's
 * URL in tests).
 *
 * @example
 * ```ts
 * import { lineTokenApi } from "kagiya/tokens";
 * const kind = lineV21Kind(lineTokenApi({ baseUrl: "http://127.0.0.1:8787" }));
 * ```
 */
export function lineV21Kind(line: LineTokenApi): CredentialKind {
  return {
    name: "line-v2.1",
    description: "LINE channel access token v2.1 (JWT assertion, up to 30 days, 30 per channel)",
    resolvePolicy: resolveTokenPolicy,
    obtain: async (channel, policy) => line.issue(channel, policy.lifetimeSeconds),
    revoke: (channel, accessToken) => line.revoke(channel, accessToken),
    ledger: {
      limit: LINE_TOKEN_LIMITS.maxValidTokens,
      // Orphans carry no expiry from LINE: count them for the longest life LINE grants.
      orphanLifetimeMs: LINE_TOKEN_LIMITS.maxLifetimeSeconds * 1000,
      validKeyIds: (channel) => line.validKeyIds(channel),
      capReached: (error) => (error as { code?: unknown } | null)?.code === "ERR_LINE_TOKEN_LIMIT",
    },
  };
}
