/**
 * Kind `line-works`: LINE WORKS service-account access tokens (JWT bearer grant, RFC 7523). The
 * server decides the lifetime (1 h or 24 h, per app in the console) and says it in `expires_in`,
 * which the engine uses; tokens are refreshed at 60–70 % of whichever it is. No cap and no list of
 * valid tokens (no ledger); tokens are revocable.
 *
 * A credential of this kind holds: `privateKey` = the service account's private key (a JWK;
 * `kagiya works add` converts the console's PKCS #8 PEM), `settings` = `{ clientId, serviceAccount,
 * scope (space-separated), refresh: "assertion", botId? }`, `secrets` = `{ clientSecret, botSecret? }`,
 * `kid` = "" (LINE WORKS' assertions carry none).
 *
 * Refresh policy `assertion` mints a fresh assertion for every token. `refresh-token` needs
 * refresh-token storage the engine does not have yet, and is refused.
 *
 * @module
 */
import { InvalidInputError } from "../../core/errors.ts";
import { checkServiceAccount, checkWorksClientId, parseWorksScopes } from "../../core/jwt/works-assertion.ts";
import type { WorksApp, WorksTokenApi } from "../../clients/works/port.ts";
import type { Channel } from "../../store/registry.ts";
import type { TokenPolicyOverrides } from "../../store/types.ts";
import type { CredentialKind } from "../../tokens/kind.ts";
import { resolveTokenPolicy, type TokenPolicy } from "../../tokens/policy.ts";
import { derivedKeyId } from "../derived-key-id.ts";

/** The kind's name, stored with each LINE WORKS app. */
export const LINE_WORKS_KIND = "line-works";

/** The longest token LINE WORKS gives (24 h), seconds: the policy's informational lifetime. */
export const WORKS_TOKEN_LIFETIME_SECONDS = 86_400;

/** Refresh policies a LINE WORKS app may name; only `assertion` is available today. */
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
 * Checks a refresh policy: `assertion` is returned; `refresh-token` is refused as not available
 * yet (`ERR_WORKS_REFRESH_UNAVAILABLE`); anything else is bad input.
 *
 * @example
 * ```ts
 * checkWorksRefreshPolicy("assertion"); // "assertion"
 * ```
 */
export function checkWorksRefreshPolicy(value: unknown, field = "refresh"): "assertion" {
  if (value === "assertion") return value;
  if (value === "refresh-token") {
    throw new InvalidInputError(`${field} "refresh-token" is not available yet (it needs refresh-token storage kagiya does not have yet): use "assertion", which mints a fresh JWT for every token`, {
      field,
      code: "ERR_WORKS_REFRESH_UNAVAILABLE",
    });
  }
  const shown = typeof value === "string" ? JSON.stringify(value.slice(0, 40)) : typeof value;
  throw new InvalidInputError(`${field} must be "assertion" (or, later, "refresh-token"), not ${shown}`, { field });
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
  checkWorksRefreshPolicy(setting(credential, "refresh") ?? "assertion", at("refresh"));
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
    async obtain(credential) {
      const t = await works.issue(appOf(credential));
      return { accessToken: t.accessToken, keyId: derivedKeyId("works", t.accessToken), expiresIn: t.expiresIn };
    },
    async revoke(credential, accessToken) {
      await works.revoke(appOf(credential), accessToken);
    },
  };
}
