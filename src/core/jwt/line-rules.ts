/**
 * LINE's rules for channel access token v2.1 client assertions, in one place
 * (LINE Developers, "Issue channel access token v2.1"; see reference/LINE-FACTS.md).
 * All durations are seconds.
 */

/** `aud` must be exactly this, trailing slash included. */
export const LINE_AUDIENCE = "https://api.line.me/";

/** The only signature algorithm LINE accepts for assertions. */
export const LINE_ALG = "RS256";

/** Default and maximum lifetime of an assertion (`exp` − now). */
export const ASSERTION_EXPIRES_IN_DEFAULT = 300;
export const ASSERTION_EXPIRES_IN_MAX = 30 * 60;

/** Default and maximum lifetime asked for the access token (`token_exp`). */
export const TOKEN_EXP_DEFAULT = 30 * 24 * 3600;
export const TOKEN_EXP_MAX = 30 * 24 * 3600;
