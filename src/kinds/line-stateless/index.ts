/**
 * Kind `line-stateless`: LINE's stateless channel access tokens (`POST /oauth2/v3/token`). About
 * 15 minutes each, no cap and no revocation (they lapse), obtained by JWT assertion (default) or by
 * channel ID and secret (`settings.auth = "secret"`). LINE returns no key ID, so the row's ID is
 * derived from the token.
 *
 * @module
 */
import { InvalidInputError } from "../../core/errors.ts";
import type { Channel } from "../../store/registry.ts";
import type { TokenPolicyOverrides } from "../../store/types.ts";
import type { CredentialKind } from "../../tokens/kind.ts";
import { resolveTokenPolicy, type TokenPolicy } from "../../tokens/policy.ts";
import type { LineStatelessApi } from "../../tokens/upstream.ts";
import { derivedKeyId } from "../derived-key-id.ts";

/** LINE's stateless lifetime (seconds): the policy's lifetime is informational, LINE sets it. */
export const STATELESS_LIFETIME_SECONDS = 900;

const DEFAULTS: TokenPolicyOverrides = Object.freeze({
  lifetimeSeconds: STATELESS_LIFETIME_SECONDS,
  refreshMin: 0.6,
  refreshMax: 0.7,
  minRemainingSeconds: 60,
  revokeGraceSeconds: 0,
  maxLiveTokens: 30,
});

/** How the stateless kind authenticates: a channel's `settings.auth`. */
export type StatelessAuth = "assertion" | "secret";

/** The channel's `settings.auth`, validated ("assertion" when unset). */
export function statelessAuthOf(channel: Pick<Channel, "channelId" | "settings">): StatelessAuth {
  const auth = channel.settings["auth"] ?? "assertion";
  if (auth !== "assertion" && auth !== "secret") {
    throw new InvalidInputError(`channel ${channel.channelId}: settings.auth must be "assertion" or "secret"`, { field: "settings.auth" });
  }
  return auth;
}

function resolveStatelessPolicy(overrides: TokenPolicyOverrides | undefined): TokenPolicy {
  if (overrides?.lifetimeSeconds !== undefined && overrides.lifetimeSeconds !== STATELESS_LIFETIME_SECONDS) {
    throw new InvalidInputError(`token policy: lifetimeSeconds cannot be set for stateless tokens (LINE gives them about ${STATELESS_LIFETIME_SECONDS / 60} minutes)`, {
      field: "lifetimeSeconds",
      code: "ERR_TOKEN_POLICY_INVALID",
    });
  }
  return resolveTokenPolicy({ ...DEFAULTS, ...overrides });
}

/**
 * The stateless kind over LINE's v3 token endpoint.
 *
 * @example
 * ```ts
 * import { lineTokenApi } from "kagiya/tokens";
 * const kind = lineStatelessKind(lineTokenApi({ baseUrl: "http://127.0.0.1:8787" }));
 * ```
 */
export function lineStatelessKind(line: LineStatelessApi): CredentialKind {
  return {
    name: "line-stateless",
    description: "LINE stateless channel access token (about 15 minutes, no cap, not revocable)",
    resolvePolicy: resolveStatelessPolicy,
    async obtain(channel) {
      const t = await line.issueStateless(channel, statelessAuthOf(channel));
      return { accessToken: t.accessToken, keyId: derivedKeyId("stateless", t.accessToken), expiresIn: t.expiresIn };
    },
  };
}
