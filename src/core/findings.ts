/**
 * Every finding code `keys lint` and `jwt inspect` can report, in one place, with what it
 * means. Codes are stable: scripts may match on them. docs/keys-and-jwt.md lists them all
 * (a test checks that).
 */

/** Codes of {@link KeyFinding}s, with a one-line meaning each. */
export const KEY_FINDING_CODES = {
  KEY_KTY_NOT_RSA: "kty is missing or not \"RSA\"",
  KEY_MEMBER_NOT_STRING: "a member that must be a base64url string is not a string",
  KEY_B64_PADDING: "a base64url member carries \"=\" padding",
  KEY_B64_ALPHABET: "a base64url member has characters outside the base64url alphabet (+, /, spaces, ...)",
  KEY_N_MISSING: "the modulus n is missing",
  KEY_N_LEADING_ZERO: "n starts with a zero octet (RFC 7518 requires the minimal encoding)",
  KEY_MODULUS_SIZE: "the modulus, measured from n, is not 2048 bits",
  KEY_E_MISSING: "the public exponent e is missing",
  KEY_E_INVALID: "e is even or smaller than 3",
  KEY_E_UNUSUAL: "e is not 65537",
  KEY_ALG_MISSING: "alg is missing (LINE wants \"RS256\")",
  KEY_ALG_NOT_RS256: "alg is not \"RS256\"",
  KEY_USE_MISSING: "neither use nor key_ops says what the key is for",
  KEY_USE_NOT_SIG: "use is not \"sig\"",
  KEY_OPS_INVALID: "key_ops is not [\"verify\"] (public) or [\"sign\"] (private)",
  KEY_USE_AND_KEY_OPS: "both use and key_ops are present (RFC 7517 §4.3: use one)",
  KEY_KID_PRESENT: "a public key to register carries a kid (the LINE console assigns it and refuses keys that have one)",
  KEY_PRIVATE_MEMBER_IN_PUBLIC: "a public key carries a private member",
  KEY_PRIVATE_INCOMPLETE: "a private key lacks one of the CRT members p, q, dp, dq, qi",
  KEY_MULTI_PRIME: "a private key uses multi-prime \"oth\"",
  KEY_PRIVATE_MISMATCH: "the private members do not match each other or the public half (n, e)",
} as const;

/** Codes of {@link JwtFinding}s, with a one-line meaning each. */
export const JWT_FINDING_CODES = {
  JWT_B64_PADDING: "a segment carries \"=\" padding (JWS uses base64url without padding)",
  JWT_B64_ALPHABET: "a segment uses \"+\" or \"/\" (base64, not base64url)",
  JWT_ALG_MISSING: "the header has no alg",
  JWT_ALG_NONE: "alg is \"none\": an unsigned token",
  JWT_ALG_HMAC: "alg is HS256/384/512: a shared-secret MAC, not a signature",
  JWT_ALG_NOT_RS256: "alg is not \"RS256\"",
  JWT_TYP_MISSING: "the header has no typ",
  JWT_TYP_NOT_JWT: "typ is not \"JWT\"",
  JWT_KID_MISSING: "the header has no kid",
  JWT_KID_NOT_STRING: "kid is not a non-empty string",
  JWT_KID_KEY_MISMATCH: "the header's kid differs from the kid of the key given with --key",
  JWT_KID_PRESENT: "LINE WORKS: the header carries a kid (service-account assertions have none)",
  JWT_ISS_MISSING: "iss is missing",
  JWT_ISS_NOT_STRING: "iss is not a string (the channel ID must be a string)",
  JWT_SUB_MISSING: "sub is missing",
  JWT_SUB_NOT_STRING: "sub is not a string (the channel ID must be a string)",
  JWT_ISS_SUB_MISMATCH: "iss and sub differ (both must be the channel ID)",
  JWT_SUB_NOT_SERVICE_ACCOUNT: "LINE WORKS: sub is not a service account ID (xxxxx.serviceaccount@example.com)",
  JWT_AUD_PRESENT: "LINE WORKS: aud is present (service-account assertions carry none)",
  JWT_AUD_MISSING: "aud is missing",
  JWT_AUD_ARRAY: "aud is an array (LINE wants the single string \"https://api.line.me/\")",
  JWT_AUD_NO_TRAILING_SLASH: "aud lacks the trailing slash of \"https://api.line.me/\"",
  JWT_AUD_HTTP: "aud uses http instead of https",
  JWT_AUD_EXTRA_PATH: "aud has a path after \"https://api.line.me/\"",
  JWT_AUD_WRONG: "aud is not \"https://api.line.me/\"",
  JWT_EXP_MISSING: "exp is missing",
  JWT_EXP_NOT_NUMBER: "exp is not a number (a string NumericDate, for instance)",
  JWT_EXP_NOT_INTEGER: "exp is not an integer",
  JWT_EXP_PAST: "exp is in the past",
  JWT_EXP_TOO_FAR: "exp is more than 30 minutes (LINE) or 60 minutes (LINE WORKS) after iat or now",
  JWT_IAT_MISSING: "LINE WORKS: iat is missing",
  JWT_IAT_NOT_NUMBER: "iat is not a number",
  JWT_IAT_NOT_INTEGER: "iat is not an integer",
  JWT_NBF_NOT_NUMBER: "nbf is not a number",
  JWT_NBF_NOT_INTEGER: "nbf is not an integer",
  JWT_NBF_FUTURE: "nbf is in the future",
  JWT_TOKEN_EXP_MISSING: "token_exp is missing",
  JWT_TOKEN_EXP_NOT_NUMBER: "token_exp is not a number",
  JWT_TOKEN_EXP_NOT_INTEGER: "token_exp is not an integer",
  JWT_TOKEN_EXP_NOT_POSITIVE: "token_exp is zero or negative",
  JWT_TOKEN_EXP_TOO_LONG: "token_exp is over 30 days (2592000 s)",
  JWT_TOKEN_EXP_PRESENT: "LINE WORKS: token_exp is present (LINE's claim; LINE WORKS sets the lifetime in the console)",
  JWT_SIGNATURE_MISSING: "the signature segment is empty",
  JWT_SIGNATURE_LENGTH: "the signature is not 256 bytes, the size an RS256 signature with a 2048-bit key has",
  JWT_SIGNATURE_INVALID: "the signature does not verify with the given key",
} as const;

/** A stable `keys lint` code. */
export type KeyFindingCode = keyof typeof KEY_FINDING_CODES;
/** A stable `jwt inspect` code. */
export type JwtFindingCode = keyof typeof JWT_FINDING_CODES;

/** One problem with a key: the member it is in, what is wrong, and how to fix it. */
export interface KeyFinding {
  code: KeyFindingCode;
  /** The JWK member (`n`, `alg`, ...) or `key` for the key as a whole. */
  field: string;
  message: string;
  fix: string;
}

/** One problem with a JWT: where (`header.alg`, `payload.exp`, `signature`) and what. */
export interface JwtFinding {
  code: JwtFindingCode;
  field: string;
  message: string;
}
