/**
 * LINE WORKS' rules for service-account assertions (JWT bearer grant, RFC 7523), in one place
 * (LINE WORKS Developers, "Service Account authentication"; see reference/LINE-WORKS-FACTS.md).
 * All durations are seconds.
 */

/** The only signature algorithm LINE WORKS accepts for assertions. */
export const WORKS_ALG = "RS256";

/** Default and maximum lifetime of an assertion (`exp` − `iat`); every official sample uses 3600. */
export const WORKS_ASSERTION_EXPIRES_IN_DEFAULT = 3600;
/** Over 60 minutes is refused (one secondary source; LINE WORKS' samples never go past it). */
export const WORKS_ASSERTION_EXPIRES_IN_MAX = 3600;

/** `grant_type` of the service-account token request. */
export const WORKS_JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/**
 * A service account ID as the Developer Console shows it: `xxxxx.serviceaccount@example.com`
 * (only the `@` is checked: the part before it is the console's, the domain the tenant's).
 */
export const SERVICE_ACCOUNT_PATTERN = /^[^\s@]+@[^\s@]+$/;

/**
 * A scope name (`bot`, `bot.message`, `user.read`, `directory.read`, ...): `resource[.sub][.read]`.
 */
export const WORKS_SCOPE_PATTERN = /^[a-z][a-z0-9_-]*(?:\.[a-z0-9_-]+)*$/i;
