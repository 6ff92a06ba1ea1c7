/**
 * LINE's channel access token endpoints: v2.1 (issue, valid key IDs, verify, revoke), stateless
 * (v3, both forms) and short-lived (issue, verify, revoke). Each function describes one call for
 * {@link LineHttp.send}; results keep LINE's field names and are validated strictly.
 *
 * Issuing (v2.1 and short-lived) is not idempotent: those calls use the `unsafe` retry policy and
 * throw an ambiguous failure instead of retrying it. Drive recovery with ./recovery.ts.
 */
import { InvalidInputError } from "../../core/errors.ts";
import { buildAssertion, type LineAssertionCredentials } from "./assertion.ts";
import type { BuiltRequest, LineHttp } from "./http.ts";
import { bearer, checkChannelId, checkToken, optionalString, readObject, requiredSeconds, requiredString, stringArray, TOKEN_CHARS } from "./validate.ts";

const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** Channel ID and channel secret (stateless by secret, short-lived, v2.1 revoke). */
export interface ChannelSecretCredentials {
  channelId: string;
  /** Secret: never logged, never in an error. */
  channelSecret: string;
}

/** Options every call takes. */
export interface LineCallOptions {
  /** Aborts the call (and any pending retry sleep). */
  signal?: AbortSignal;
}

/** Options of a v2.1 issue. */
export interface IssueChannelTokenOptions extends LineCallOptions {
  /** Lifetime asked of LINE (the assertion's token_exp), seconds, at most 30 days. Default: createLineAssertion's (30 days). */
  tokenExpSeconds?: number;
}

/** POST /oauth2/v2.1/token answer. `access_token` is a secret; store `key_id` with it. */
export interface ChannelAccessTokenV21 {
  access_token: string;
  /** Seconds until expiry, counted from LINE's answer. */
  expires_in: number;
  token_type: "Bearer";
  key_id: string;
}

/** POST /oauth2/v3/token answer (about 15 minutes, cannot be revoked). */
export interface StatelessChannelAccessToken {
  access_token: string;
  expires_in: number;
  token_type: "Bearer";
}

/** POST /v2/oauth/accessToken answer (30 days; a channel's 31st evicts its oldest). */
export interface ShortLivedChannelAccessToken {
  access_token: string;
  expires_in: number;
  token_type: "Bearer";
}

/** GET /oauth2/v2.1/tokens/kid answer. */
export interface ValidKeyIds {
  kids: string[];
}

/** Verify answer (v2.1 and short-lived). */
export interface VerifiedChannelToken {
  client_id: string;
  /** Seconds the token has left. */
  expires_in: number;
  scope?: string;
}

/**
 * Issues a channel access token v2.1 (POST /oauth2/v2.1/token) with a fresh client assertion in
 * LINE's corrected time. Retried only when the request surely never reached LINE (connect refused,
 * DNS) or LINE answered 429; a timeout, reset, 5xx or unreadable 200 is thrown at once with
 * `ambiguous: true`, because LINE may have issued a token: check the valid key IDs before any new
 * attempt (`issueWithRecovery` does this).
 *
 * @example
 * ```ts
 * const t = await issueChannelToken(http, { channelId, kid, privateKey }, { tokenExpSeconds: 7 * 86400 });
 * await store.save(t.key_id, t.access_token);
 * ```
 */
export async function issueChannelToken(http: LineHttp, creds: LineAssertionCredentials, options: IssueChannelTokenOptions = {}): Promise<ChannelAccessTokenV21> {
  checkAssertionCredentials(creds);
  const tokenExp = checkTokenExp(options.tokenExpSeconds);
  return http.send({
    method: "POST",
    path: "/oauth2/v2.1/token",
    retry: "unsafe",
    usesAssertion: true,
    signal: options.signal,
    async build(serverNowMs) {
      const assertion = await buildAssertion(creds, { serverNowMs, lifetimeSeconds: http.config.assertionLifetimeSeconds, tokenExpSeconds: tokenExp });
      return {
        form: { grant_type: "client_credentials", client_assertion_type: ASSERTION_TYPE, client_assertion: assertion },
        secrets: [assertion],
      };
    },
    parse(res, ctx) {
      const o = readObject(res.text, ctx);
      const access_token = requiredString(o, "access_token", ctx);
      const expires_in = requiredSeconds(o, "expires_in", ctx);
      const token_type = bearer(o, ctx);
      const key_id = requiredString(o, "key_id", ctx);
      return { access_token, expires_in, token_type, key_id };
    },
  });
}

/**
 * Lists the key IDs of the channel's valid v2.1 tokens (GET /oauth2/v2.1/tokens/kid). Idempotent:
 * retried on network errors, timeouts, 5xx and 429.
 *
 * @example
 * ```ts
 * const { kids } = await listValidKeyIds(http, { channelId, kid, privateKey });
 * ```
 */
export async function listValidKeyIds(http: LineHttp, creds: LineAssertionCredentials, options: LineCallOptions = {}): Promise<ValidKeyIds> {
  checkAssertionCredentials(creds);
  return http.send({
    method: "GET",
    path: "/oauth2/v2.1/tokens/kid",
    retry: "idempotent",
    usesAssertion: true,
    signal: options.signal,
    async build(serverNowMs) {
      const assertion = await buildAssertion(creds, { serverNowMs, lifetimeSeconds: http.config.assertionLifetimeSeconds });
      return { query: { client_assertion_type: ASSERTION_TYPE, client_assertion: assertion }, secrets: [assertion] };
    },
    parse(res, ctx) {
      return { kids: stringArray(readObject(res.text, ctx), "kids", ctx) };
    },
  });
}

/**
 * Revokes a v2.1 token (POST /oauth2/v2.1/revoke). LINE answers 200 for an unknown or expired token
 * too, so success never proves the token existed. Idempotent, retried like a read.
 *
 * @example
 * ```ts
 * await revokeChannelToken(http, { channelId, channelSecret, accessToken });
 * ```
 */
export async function revokeChannelToken(http: LineHttp, input: ChannelSecretCredentials & { accessToken: string }, options: LineCallOptions = {}): Promise<void> {
  checkSecretCredentials(input);
  checkToken(input.accessToken);
  await http.send({
    method: "POST",
    path: "/oauth2/v2.1/revoke",
    retry: "idempotent",
    signal: options.signal,
    build: () => ({
      form: { client_id: input.channelId, client_secret: input.channelSecret, access_token: input.accessToken },
      secrets: [input.channelSecret, input.accessToken],
    }),
    parse: () => undefined,
  });
}

/**
 * Verifies a v2.1 token (GET /oauth2/v2.1/verify): its channel and the seconds it has left.
 * An expired or revoked token is a LineApiError (400 invalid_request).
 *
 * @example
 * ```ts
 * const { client_id, expires_in } = await verifyChannelToken(http, token);
 * ```
 */
export async function verifyChannelToken(http: LineHttp, accessToken: string, options: LineCallOptions = {}): Promise<VerifiedChannelToken> {
  checkToken(accessToken);
  return http.send({
    method: "GET",
    path: "/oauth2/v2.1/verify",
    retry: "idempotent",
    signal: options.signal,
    build: () => ({ query: { access_token: accessToken }, secrets: [accessToken] }),
    parse: (res, ctx) => readVerified(res.text, ctx),
  });
}

/**
 * Issues a stateless token (POST /oauth2/v3/token), by client assertion or by channel secret.
 * Stateless tokens have no cap and cannot be revoked, so a duplicate costs nothing: retried like a read.
 *
 * @example
 * ```ts
 * const byJwt = await issueStatelessToken(http, { channelId, kid, privateKey });
 * const bySecret = await issueStatelessToken(http, { channelId, channelSecret });
 * ```
 */
export async function issueStatelessToken(http: LineHttp, creds: LineAssertionCredentials | ChannelSecretCredentials, options: LineCallOptions = {}): Promise<StatelessChannelAccessToken> {
  const bySecret = "channelSecret" in creds;
  if (bySecret) checkSecretCredentials(creds);
  else checkAssertionCredentials(creds);
  return http.send({
    method: "POST",
    path: "/oauth2/v3/token",
    retry: "idempotent",
    usesAssertion: !bySecret,
    signal: options.signal,
    async build(serverNowMs): Promise<BuiltRequest> {
      if ("channelSecret" in creds) {
        return { form: { grant_type: "client_credentials", client_id: creds.channelId, client_secret: creds.channelSecret }, secrets: [creds.channelSecret] };
      }
      const assertion = await buildAssertion(creds, { serverNowMs, lifetimeSeconds: http.config.assertionLifetimeSeconds });
      return { form: { grant_type: "client_credentials", client_assertion_type: ASSERTION_TYPE, client_assertion: assertion }, secrets: [assertion] };
    },
    parse: (res, ctx) => readBearer(res.text, ctx),
  });
}

/**
 * Issues a short-lived token (POST /v2/oauth/accessToken). Not idempotent (a channel's 31st evicts
 * its oldest, possibly one in use): an ambiguous failure is thrown, not retried.
 *
 * @example
 * ```ts
 * const t = await issueShortLivedToken(http, { channelId, channelSecret });
 * ```
 */
export async function issueShortLivedToken(http: LineHttp, creds: ChannelSecretCredentials, options: LineCallOptions = {}): Promise<ShortLivedChannelAccessToken> {
  checkSecretCredentials(creds);
  return http.send({
    method: "POST",
    path: "/v2/oauth/accessToken",
    retry: "unsafe",
    signal: options.signal,
    build: () => ({ form: { grant_type: "client_credentials", client_id: creds.channelId, client_secret: creds.channelSecret }, secrets: [creds.channelSecret] }),
    parse: (res, ctx) => readBearer(res.text, ctx),
  });
}

/**
 * Verifies a short-lived or long-lived token (POST /v2/oauth/verify).
 *
 * @example
 * ```ts
 * const { expires_in } = await verifyShortLivedToken(http, token);
 * ```
 */
export async function verifyShortLivedToken(http: LineHttp, accessToken: string, options: LineCallOptions = {}): Promise<VerifiedChannelToken> {
  checkToken(accessToken);
  return http.send({
    method: "POST",
    path: "/v2/oauth/verify",
    retry: "idempotent",
    signal: options.signal,
    build: () => ({ form: { access_token: accessToken }, secrets: [accessToken] }),
    parse: (res, ctx) => readVerified(res.text, ctx),
  });
}

/**
 * Revokes a short-lived or long-lived token (POST /v2/oauth/revoke). 200 for unknown tokens too.
 *
 * @example
 * ```ts
 * await revokeShortLivedToken(http, token);
 * ```
 */
export async function revokeShortLivedToken(http: LineHttp, accessToken: string, options: LineCallOptions = {}): Promise<void> {
  checkToken(accessToken);
  await http.send({
    method: "POST",
    path: "/v2/oauth/revoke",
    retry: "idempotent",
    signal: options.signal,
    build: () => ({ form: { access_token: accessToken }, secrets: [accessToken] }),
    parse: () => undefined,
  });
}

function readBearer(text: string, ctx: Parameters<typeof readObject>[1]): StatelessChannelAccessToken {
  const o = readObject(text, ctx);
  const access_token = requiredString(o, "access_token", ctx);
  const expires_in = requiredSeconds(o, "expires_in", ctx);
  const token_type = bearer(o, ctx);
  return { access_token, expires_in, token_type };
}

function readVerified(text: string, ctx: Parameters<typeof readObject>[1]): VerifiedChannelToken {
  const o = readObject(text, ctx);
  const client_id = requiredString(o, "client_id", ctx);
  const expires_in = requiredSeconds(o, "expires_in", ctx);
  const scope = optionalString(o, "scope", ctx);
  return scope === undefined ? { client_id, expires_in } : { client_id, expires_in, scope };
}

function checkSecretCredentials(creds: ChannelSecretCredentials): void {
  checkChannelId(creds.channelId);
  checkToken(creds.channelSecret, "channelSecret");
}

function checkAssertionCredentials(creds: LineAssertionCredentials): void {
  checkChannelId(creds.channelId);
  if (typeof creds.kid !== "string" || creds.kid === "" || !TOKEN_CHARS.test(creds.kid)) {
    throw new InvalidInputError("The kid must be the key ID LINE assigned to the registered public key.", { field: "kid" });
  }
  if (creds.privateKey === undefined || creds.privateKey === null) {
    throw new InvalidInputError("A private key (imported once with importAssertionKey) is required to build the client assertion.", { field: "privateKey" });
  }
}

function checkTokenExp(tokenExpSeconds: number | undefined): number | undefined {
  if (tokenExpSeconds === undefined) return undefined;
  if (!Number.isInteger(tokenExpSeconds) || tokenExpSeconds < 1 || tokenExpSeconds > 2_592_000) {
    throw new InvalidInputError("tokenExpSeconds must be a whole number of seconds from 1 to 2592000 (30 days).", { field: "tokenExpSeconds" });
  }
  return tokenExpSeconds;
}
