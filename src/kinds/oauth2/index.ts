/**
 * Kind `oauth2`: OAuth 2.0 authorization-code grants (seed 004). A credential of this kind is either
 * a provider registration (ID NAME, settings = the registration, see ./registration.ts, secrets =
 * `{ clientSecret }`) whose own grant is the command line's, or a web login's grant (ID
 * `NAME.<id>`, settings `{ provider: NAME, subject, scope }`) that uses NAME's registration.
 *
 * The grant — refresh token, granted scope, ID token claims — is kept sealed in the store's grants
 * (one per credential, compare-and-set on its version). A token can only be had through the grant
 * (`grantUse: "required"`): `obtain` is a refresh with the stored refresh token; without a grant,
 * or once the provider refuses it and no newer one was stored, the credential needs a new login
 * (`ERR_OAUTH_REAUTH_REQUIRED`). A rotated refresh token is returned as the new grant, which the
 * engine stores before it hands out the access token. The server decides the access token's
 * lifetime (`expires_in`); tokens are refreshed at 70–80 % of it. Access tokens are not revoked one
 * by one when superseded: at many providers (oidc-provider among them) revoking one ends the whole
 * grant. `kagiya oauth revoke` revokes the grant itself.
 *
 * @module
 */
import { refreshTokens, type IdTokenClaims, type TokenSet } from "../../clients/oauth/index.ts";
import { InvalidInputError } from "../../core/errors.ts";
import type { Channel } from "../../store/registry.ts";
import type { TokenPolicyOverrides } from "../../store/types.ts";
import { InvalidGrantError, ReauthRequiredError } from "../../tokens/errors.ts";
import type { CredentialKind, GrantSecret } from "../../tokens/kind.ts";
import { resolveTokenPolicy, type TokenPolicy } from "../../tokens/policy.ts";
import { derivedKeyId } from "../derived-key-id.ts";
import { oauthUpstream, type IssuePermit } from "../../tokens/permits.ts";
import { isWebGrant, OAUTH2_KIND, registrationOf, resolveRegistration, type PresetOrigins, type ResolvedRegistration } from "./registration.ts";

export { OAUTH2_KIND } from "./registration.ts";

/** Prefix of the key IDs kagiya derives for OAuth access tokens. */
export const OAUTH_KEY_PREFIX = "oauth";

/** The lifetime the policy is planned with when the server does not say one (informational), seconds. */
const NOMINAL_LIFETIME_SECONDS = 3600;

const DEFAULTS: TokenPolicyOverrides = Object.freeze({
  lifetimeSeconds: NOMINAL_LIFETIME_SECONDS,
  refreshMin: 0.7,
  refreshMax: 0.8,
  // Lifetimes run from seconds (test servers) to 30 days (LINE Login): the refresh point, at 70–80 %
  // of whatever the server gave, is what keeps tokens fresh; a token is handed out until 1 s before it ends.
  minRemainingSeconds: 1,
  revokeGraceSeconds: 0,
  maxLiveTokens: 30,
});

/**
 * The policy of an OAuth grant: `lifetimeSeconds` cannot be set (the server decides); the rest may.
 *
 * @example
 * ```ts
 * resolveOAuthPolicy(undefined).refreshMin; // 0.7
 * ```
 */
export function resolveOAuthPolicy(overrides: TokenPolicyOverrides | undefined): TokenPolicy {
  if (overrides?.lifetimeSeconds !== undefined && overrides.lifetimeSeconds !== NOMINAL_LIFETIME_SECONDS) {
    throw new InvalidInputError("token policy: lifetimeSeconds cannot be set for OAuth grants (the authorization server decides, in expires_in)", { field: "lifetimeSeconds", code: "ERR_TOKEN_POLICY_INVALID" });
  }
  return resolveTokenPolicy({ ...DEFAULTS, ...overrides });
}

/** The grant kept for a token set: refresh token, granted scope, ID token claims (all sealed together). */
export function oauthGrantSecret(tokens: Pick<TokenSet, "refreshToken" | "scope" | "idTokenClaims">): GrantSecret {
  if (tokens.refreshToken === undefined) throw new InvalidInputError("the login returned no refresh token: there is no grant to keep", { field: "refresh_token" });
  return { refreshToken: tokens.refreshToken, scope: [...tokens.scope], ...(tokens.idTokenClaims ? { idTokenClaims: tokens.idTokenClaims } : {}) };
}

/** A stored grant as the OAuth client's token set (no access token: only what a refresh needs). */
function tokenSetOf(grant: GrantSecret): TokenSet {
  const scope = Array.isArray(grant["scope"]) ? (grant["scope"] as unknown[]).filter((s): s is string => typeof s === "string") : [];
  const claims = grant["idTokenClaims"];
  return {
    accessToken: "",
    tokenType: "Bearer",
    expiresAt: undefined,
    refreshToken: grant.refreshToken,
    scope,
    idToken: undefined,
    idTokenClaims: claims !== null && typeof claims === "object" ? (claims as IdTokenClaims) : undefined,
    obtainedAt: 0,
  };
}

/** What the kind needs from its surroundings. */
export interface OAuth2KindOptions {
  /** Loads a credential by ID (a web grant's provider registration). */
  lookup(id: string): Promise<Channel>;
  /** Preset production origins → replacements (development against the emulator). */
  origins?: PresetOrigins;
  fetch?: typeof fetch;
  now?: () => number;
  /** Awaited right before each refresh request, with the provider's upstream name (`oauth:<token endpoint origin>`). */
  permit?: IssuePermit;
}

/**
 * The `oauth2` kind.
 *
 * @example
 * ```ts
 * const kind = oauth2Kind({ lookup: (id) => registry.require(id) });
 * ```
 */
export function oauth2Kind(options: OAuth2KindOptions): CredentialKind {
  const now = options.now ?? Date.now;
  const resolve = async (credential: Channel): Promise<ResolvedRegistration> => {
    const source = isWebGrant(credential) ? await options.lookup(credential.settings["provider"] as string) : credential;
    return resolveRegistration(registrationOf(source), source, { ...(options.origins ? { origins: options.origins } : {}), ...(options.fetch ? { fetch: options.fetch } : {}), now });
  };
  return {
    name: OAUTH2_KIND,
    description: "OAuth 2.0 authorization-code grant (refresh token sealed; refreshed once across processes; log in with kagiya oauth login)",
    resolvePolicy: resolveOAuthPolicy,
    grantUse: () => "required",
    async obtain(credential, _policy, grant) {
      if (grant === null) throw new ReauthRequiredError(credential.channelId, "missing");
      const { provider, client } = await resolve(credential);
      const before = tokenSetOf(grant);
      let next: TokenSet;
      await options.permit?.(oauthUpstream(provider.tokenEndpoint));
      try {
        next = await refreshTokens(provider, client, before, { now, ...(options.fetch ? { fetch: options.fetch } : {}) });
      } catch (error) {
        if ((error as { code?: unknown }).code === "ERR_OAUTH_INVALID_GRANT") throw new InvalidGrantError(credential.channelId, { cause: error });
        throw error;
      }
      const started = next.obtainedAt;
      const expiresIn = next.expiresAt === undefined ? NOMINAL_LIFETIME_SECONDS : Math.max(0, Math.floor((next.expiresAt - started) / 1000));
      // Rotation (a new refresh token) or changed claims or scope: a new grant to store first.
      const changed = next.refreshToken !== grant.refreshToken || next.idTokenClaims !== before.idTokenClaims || next.scope.join(" ") !== before.scope.join(" ");
      return {
        accessToken: next.accessToken,
        keyId: derivedKeyId(OAUTH_KEY_PREFIX, next.accessToken),
        expiresIn,
        ...(changed ? { grant: oauthGrantSecret(next) } : {}),
      };
    },
  };
}
