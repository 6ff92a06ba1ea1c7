/**
 * Kind `line-works`: LINE WORKS service-account access tokens (JWT bearer grant, RFC 7523). The
 * server decides the lifetime (1 h or 24 h, per app in the console) and says it in `expires_in`,
 * which the engine uses; tokens are refreshed at 60–70 % of whichever it is. No cap and no list of
 * valid tokens (no ledger); tokens are revocable.
 *
 * A credential of this kind holds: `privateKey` = the service account's private key (a JWK;
 * `kagiya works add` converts the console's PKCS #8 PEM), `settings` = `{ clientId, serviceAccount,
 * scope (space-separated), refresh: "assertion" | "refresh-token", botId? }`, `secrets` =
 * `{ clientSecret, botSecret? }`, `kid` = "" (LINE WORKS' assertions carry none).
 *
 * Refresh policy `assertion` (the default) mints a fresh assertion for every token: no refresh
 * token is kept, so no refresh-token race is possible. `refresh-token` keeps the refresh token as
 * the credential's grant (engine: ../../tokens/grants.ts): the first token comes from an assertion,
 * whose answer carries a refresh token; later ones from the stored refresh token. With rotation off
 * the answer has no refresh token and the stored one stays; with rotation on the new one is stored
 * by compare-and-set on the old one. A refused refresh token (`invalid_grant`) makes the engine
 * adopt a newer one another process stored, else start over with an assertion (the key is always
 * there), so a LINE WORKS app never needs a person to log in again.
 *
 * @module
 */
import { InvalidInputError } from "../../core/errors.ts";
import { checkServiceAccount, checkWorksClientId, parseWorksScopes } from "../../core/jwt/works-assertion.ts";
import type { WorksApp, WorksTokenApi } from "../../clients/works/port.ts";
import type { Channel } from "../../store/registry.ts";
import type { TokenPolicyOverrides } from "../../store/types.ts";
import { classifyWorksFailure } from "../../clients/works/port.ts";
import { InvalidGrantError } from "../../tokens/errors.ts";
import type { CredentialKind, GrantSecret, ObtainedToken } from "../../tokens/kind.ts";
import { resolveTokenPolicy, type TokenPolicy } from "../../tokens/policy.ts";
import { derivedKeyId } from "../derived-key-id.ts";

/** The kind's name, stored with each LINE WORKS app. */
export const LINE_WORKS_KIND = "line-works";

/** The longest token LINE WORKS gives (24 h), seconds: the policy's informational lifetime. */
export const WORKS_TOKEN_LIFETIME_SECONDS = 86_400;

/** Refresh policies a LINE WORKS app may name. */
export const WORKS_REFRESH_POLICIES = ["assertion", "refresh-token"] as const;

/** A refresh policy of a LINE WORKS app. */
export type WorksRefreshPolicy = (typeof WORKS_REFRESH_POLICIES)[number];

const DEFAULTS: TokenPolicyOverrides = Object.freeze({
  lifetimeSeconds: WORKS_TOKEN_LIFETIME_SECONDS,
  refreshMin: 0.6,
  refreshMax: 0.7,
  minRemainingSeconds: 300,
  revokeGraceSeconds: 600,
  maxLiveTokens: 10,
});

function resolveWorksPolicy(overrides: TokenPolicyOverrides | undefined): TokenPolicy {
  if (overrides?.lifetimeSeconds !== undefined && overrides.lifetimeSeconds !== WORKS_TOKEN_LIFETIME_SECONDS) {
    throw new InvalidInputError("token policy: lifetimeSeconds cannot be set for LINE WORKS tokens (the app's console setting decides: 1 h or 24 h)", {
      field: "lifetimeSeconds",
      code: "ERR_TOKEN_POLICY_INVALID",
    });
  }
  // A 1 h token is refreshed at 36–42 min: 5 min left is always after that.
  return resolveTokenPolicy({ ...DEFAULTS, ...overrides });
}

/**
 * Checks a refresh policy: `assertion` or `refresh-token` is returned; anything else is bad input.
 *
 * @example
 * ```ts
 * checkWorksRefreshPolicy("refresh-token"); // "refresh-token"
 * ```
 */
export function checkWorksRefreshPolicy(value: unknown, field = "refresh"): WorksRefreshPolicy {
  if (value === "assertion" || value === "refresh-token") return value;
  const shown = typeof value === "string" ? JSON.stringify(value.slice(0, 40)) : typeof value;
  throw new InvalidInputError(`${field} must be "assertion" or "refresh-token", not ${shown}`, { field });
}

/** The refresh policy a credential of this kind names (absent: `assertion`). */
function refreshPolicyOf(credential: Channel): WorksRefreshPolicy {
  return checkWorksRefreshPolicy(setting(credential, "refresh") ?? "assertion", `credential ${credential.channelId}: settings.refresh`);
}

function setting(credential: Channel, name: string): unknown {
  return credential.settings[name];
}

/**
 * The LINE WORKS app a credential of this kind describes, validated. Throws InvalidInputError
 * naming the setting or secret at fault (never showing a secret).
 *
 * @example
 * ```ts
 * const app = worksAppOf(await registry.require("works-billing"));
 * ```
 */
export function worksAppOf(credential: Channel): WorksApp {
  const at = (name: string): string => `credential ${credential.channelId}: settings.${name}`;
  refreshPolicyOf(credential);
  const clientId = checkWorksClientId(setting(credential, "clientId"), at("clientId"));
  const serviceAccount = checkServiceAccount(setting(credential, "serviceAccount"), at("serviceAccount"));
  const scope = parseWorksScopes(setting(credential, "scope"), at("scope"));
  const clientSecret = credential.secrets["clientSecret"];
  if (clientSecret === undefined) throw new InvalidInputError(`credential ${credential.channelId}: the secret clientSecret is missing (add the app again with kagiya works add)`, { field: "secrets.clientSecret" });
  return { clientId, clientSecret, serviceAccount, privateKey: credential.privateKey as Record<string, unknown>, scope };
}

/**
 * The `line-works` kind over LINE WORKS' auth server.
 *
 * @example
 * ```ts
 * import { worksTokenApi } from "kagiya/clients/works";
 * const kind = lineWorksKind(worksTokenApi({ authBaseUrl: "http://127.0.0.1:8787" }));
 * ```
 */
export function lineWorksKind(works: WorksTokenApi): CredentialKind {
  // One app object per version of the credential: the port imports its key once per app object.
  const apps = new WeakMap<Channel, WorksApp>();
  const appOf = (credential: Channel): WorksApp => {
    let app = apps.get(credential);
    if (app === undefined) apps.set(credential, (app = worksAppOf(credential)));
    return app;
  };
  return {
    name: LINE_WORKS_KIND,
    description: "LINE WORKS service-account access token (1 h or 24 h, as the app is set; revocable)",
    resolvePolicy: resolveWorksPolicy,
    grantUse: (credential) => (refreshPolicyOf(credential) === "refresh-token" ? "optional" : "none"),
    async obtain(credential, _policy, grant) {
      const app = appOf(credential);
      if (grant === null || refreshPolicyOf(credential) !== "refresh-token") {
        const t = await works.issue(app);
        const out: ObtainedToken = { accessToken: t.accessToken, keyId: derivedKeyId("works", t.accessToken), expiresIn: t.expiresIn };
        // Kept only under the refresh-token policy: with `assertion` nothing is stored.
        if (t.refreshToken !== undefined && refreshPolicyOf(credential) === "refresh-token") out.grant = { refreshToken: t.refreshToken, scope: t.scope };
        return out;
      }
      let t;
      try {
        t = await works.refresh(app, grant.refreshToken);
      } catch (error) {
        if (classifyWorksFailure(error).invalidGrant) throw new InvalidGrantError(credential.channelId, { cause: error });
        throw error;
      }
      const out: ObtainedToken = { accessToken: t.accessToken, keyId: derivedKeyId("works", t.accessToken), expiresIn: t.expiresIn };
      // Rotation on: a new refresh token (the one sent is spent). Off: none, and the stored one stays.
      if (t.refreshToken !== undefined) out.grant = { ...grant, refreshToken: t.refreshToken, scope: t.scope } satisfies GrantSecret;
      return out;
    },
    async revoke(credential, accessToken) {
      await works.revoke(appOf(credential), accessToken);
    },
  };
}
