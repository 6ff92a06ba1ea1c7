/**
 * ID token validation (OpenID Connect Core §3.1.3.7): signature with only the algorithms the
 * provider is configured for — asymmetric ones against its JWKS (fetched through jose's remote key
 * set: cached, one shared refresh, a cooldown between refetches), HMAC ones with the client secret
 * (LINE Login's web login signs with HS256 keyed by the channel secret) — then `iss`, `aud`, `azp`,
 * `exp`, `iat`, `sub` and `nonce`.
 */
import { createRemoteJWKSet, customFetch, decodeProtectedHeader, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { OAuthError, OAuthIdTokenError } from "./errors.ts";
import { safeEqual, type OAuthCallOptions } from "./http.ts";
import type { Provider } from "./provider.ts";

/** The claims of a validated ID token. */
export interface IdTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  nonce?: string;
  [claim: string]: unknown;
}

/** Options of {@link validateIdToken}. */
export interface IdTokenOptions extends OAuthCallOptions {
  /** The nonce sent with the authorization request; required in the token when given. */
  nonce?: string | undefined;
  /** The client secret, for HS* algorithms. */
  hmacSecret?: string | undefined;
  /** Leeway for `exp` and `iat`, seconds (default 30). */
  clockToleranceS?: number;
}

/** Default leeway for `exp`/`iat` checks: 30 seconds. */
export const ID_TOKEN_CLOCK_TOLERANCE_S = 30;

// One remote key set per provider object and fetch: jose keeps its cache and cooldown in it.
const keySets = new WeakMap<Provider, { fetch: typeof fetch | undefined; set: ReturnType<typeof createRemoteJWKSet> }>();

function remoteKeys(provider: Provider, f: typeof fetch | undefined): ReturnType<typeof createRemoteJWKSet> {
  const known = keySets.get(provider);
  if (known && known.fetch === f) return known.set;
  if (!provider.jwksUri) throw new OAuthIdTokenError("alg", "the ID token is signed with an asymmetric algorithm but the provider has no jwks_uri");
  const options: Parameters<typeof createRemoteJWKSet>[1] = { cooldownDuration: 30_000, cacheMaxAge: 600_000 };
  if (f) options[customFetch] = (url, init) => f(url, init);
  const set = createRemoteJWKSet(new URL(provider.jwksUri), options);
  keySets.set(provider, { fetch: f, set });
  return set;
}

/**
 * Validates an ID token for `clientId` and returns its claims. Throws {@link OAuthIdTokenError}
 * (`ERR_OAUTH_ID_TOKEN_SIGNATURE`, `…_ALG`, `…_NONCE`, `…_CLAIM`) or `ERR_OAUTH_NETWORK` when the
 * JWKS cannot be fetched.
 *
 * @example
 * ```ts
 * const claims = await validateIdToken(provider, "app", tokens.idToken!, { nonce: pending.nonce });
 * claims.sub;
 * ```
 */
export async function validateIdToken(provider: Provider, clientId: string, idToken: string, options: IdTokenOptions = {}): Promise<IdTokenClaims> {
  let alg: string | undefined;
  try {
    alg = decodeProtectedHeader(idToken).alg;
  } catch {
    throw new OAuthIdTokenError("format", "the ID token is not a compact JWS");
  }
  if (alg === undefined || !provider.idTokenAlgorithms.includes(alg)) {
    throw new OAuthIdTokenError("alg", `ID token algorithm ${String(alg)} is not one the provider is configured for (${provider.idTokenAlgorithms.join(", ")})`);
  }
  let key: Uint8Array | JWTVerifyGetKey;
  if (alg.startsWith("HS")) {
    if (!options.hmacSecret) throw new OAuthIdTokenError("alg", `an ${alg} ID token needs the client secret, and this client has none`);
    key = new TextEncoder().encode(options.hmacSecret);
  } else {
    key = remoteKeys(provider, options.fetch);
  }
  const now = (options.now ?? Date.now)();
  let payload: JWTPayload;
  try {
    const verified = await jwtVerify(idToken, key as Uint8Array, {
      algorithms: [...provider.idTokenAlgorithms],
      issuer: provider.issuer,
      audience: clientId,
      currentDate: new Date(now),
      clockTolerance: options.clockToleranceS ?? ID_TOKEN_CLOCK_TOLERANCE_S,
      requiredClaims: ["iss", "sub", "aud", "exp", "iat"],
    });
    payload = verified.payload;
  } catch (error) {
    throw mapJoseError(error);
  }
  if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload["azp"] !== clientId) {
    throw new OAuthIdTokenError("azp", "the ID token has several audiences and its azp is not this client");
  }
  if (options.nonce !== undefined) {
    const nonce = payload["nonce"];
    if (typeof nonce !== "string" || !safeEqual(nonce, options.nonce)) throw new OAuthIdTokenError("nonce", "the ID token's nonce does not match this login attempt");
  }
  return payload as IdTokenClaims;
}

function mapJoseError(error: unknown): OAuthError {
  const e = error as { code?: string; claim?: string; message?: string };
  switch (e.code) {
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
    case "ERR_JWKS_NO_MATCHING_KEY":
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
      return new OAuthIdTokenError("signature", "the ID token's signature does not verify with the provider's keys");
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return new OAuthIdTokenError("alg", "the ID token's algorithm is not allowed");
    case "ERR_JWT_EXPIRED":
      return new OAuthIdTokenError("exp", "the ID token has expired");
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      return new OAuthIdTokenError(e.claim ?? "claims", `the ID token's ${e.claim ?? "claims"} check failed`);
    case "ERR_JWKS_TIMEOUT":
      return new OAuthError("ERR_OAUTH_NETWORK", "the provider's JWKS did not answer in time");
    case "ERR_JWKS_INVALID":
    case "ERR_JOSE_GENERIC":
      return new OAuthError("ERR_OAUTH_BAD_RESPONSE", "the provider's JWKS could not be used");
    case "ERR_JWS_INVALID":
    case "ERR_JWT_INVALID":
      return new OAuthIdTokenError("format", "the ID token is malformed");
    default:
      if (e.code === undefined) return new OAuthError("ERR_OAUTH_NETWORK", "the provider's JWKS could not be fetched");
      return new OAuthIdTokenError("signature", `the ID token could not be verified (${e.code})`);
  }
}
