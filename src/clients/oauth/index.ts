/**
 * `kagiya/oauth`: an OAuth 2.0 / OpenID Connect authorization-code client on `fetch` and WebCrypto.
 * Each protocol step is split as oauth4webapi does — build and send the request, then validate the
 * answer into a typed result — and the convenience calls (`exchangeCode`, `refreshTokens`) chain them.
 *
 * @example
 * ```ts
 * import { discoverProvider, clientSecretBasic, createAuthorizationRequest, exchangeCode, MemoryTokenHolder, createAuthorizedFetch } from "kagiya/oauth";
 * const provider = await discoverProvider("https://accounts.example.com");
 * const client = { clientId: "app", auth: clientSecretBasic(process.env.CLIENT_SECRET!) };
 * const pending = await createAuthorizationRequest(provider, { clientId: client.clientId, redirectUri: "http://127.0.0.1:8123/callback", scope: "openid offline_access" });
 * // … send the user to pending.url, receive the redirect …
 * const tokens = await exchangeCode(provider, client, pending, callbackUrl);
 * const api = createAuthorizedFetch({ holder: new MemoryTokenHolder(provider, client, tokens), allowedOrigins: ["https://api.example.com"] });
 * ```
 */
export {
  OAuthError, OAuthResponseError, OAuthAuthorizationError, OAuthBadResponseError, OAuthIdTokenError,
  OAUTH_ERROR_CODES, type OAuthErrorCode,
} from "./errors.ts";
export { type OAuthCallOptions, isLoopbackHost } from "./http.ts";
export {
  defineProvider, discoverProvider, discoveryUrl, processDiscoveryResponse, DISCOVERY_CACHE_MS,
  type Provider, type ProviderOptions, type ProviderMetadata, type DiscoverOptions, type DiscoveryKind, type RevocationStyle,
} from "./provider.ts";
export {
  clientSecretBasic, clientSecretPost, privateKeyJwt, noClientAuth,
  type ClientAuth, type ClientAuthMethod, type ClientAuthRequest, type OAuthClient,
} from "./client-auth.ts";
export {
  createAuthorizationRequest, validateCallback, pkceChallenge, scopeList,
  type AuthorizationRequestOptions, type PendingAuthorization,
} from "./authorize.ts";
export {
  authorizationCodeGrantRequest, refreshTokenGrantRequest, processTokenResponse, exchangeCode, refreshTokens, revokeToken, introspectToken,
  type TokenSet, type TokenResponseExpectations,
} from "./token.ts";
export { validateIdToken, ID_TOKEN_CLOCK_TOLERANCE_S, type IdTokenClaims, type IdTokenOptions } from "./id-token.ts";
export { MemoryTokenHolder, REFRESH_LEEWAY_MS, type TokenHolder, type MemoryTokenHolderOptions } from "./holder.ts";
export { createAuthorizedFetch, type AuthorizedFetch, type AuthorizedFetchOptions } from "./fetch.ts";
export { LINE_LOGIN, LINE_WORKS, OAUTH_PRESETS, presetProvider, type OAuthPreset, type PresetProviderOptions } from "./presets.ts";
