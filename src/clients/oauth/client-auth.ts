/**
 * Client authentication at the token and revocation endpoints, as a strategy value
 * (oauth4webapi's shape): `client_secret_basic`, `client_secret_post`, `private_key_jwt` (RFC 7523
 * §2.2, signed with WebCrypto through jose) or `none` (a public client: `client_id` only).
 * A strategy never exposes its secret as an enumerable field, so logging a client prints no secret.
 */
import { SignJWT } from "jose";
import { OAuthError } from "./errors.ts";
import { randomToken } from "./http.ts";

/** The RFC 7591 names of the supported methods. */
export type ClientAuthMethod = "client_secret_basic" | "client_secret_post" | "private_key_jwt" | "none";

/** What a strategy is given to authenticate one request. */
export interface ClientAuthRequest {
  clientId: string;
  /** The `aud` of a client assertion: the provider's issuer. */
  audience: string;
  params: URLSearchParams;
  headers: Headers;
  /** Epoch milliseconds. */
  now: number;
}

/** A client authentication strategy. */
export interface ClientAuth {
  readonly method: ClientAuthMethod;
  /** Adds credentials to the request; returns the values errors must never show. */
  apply(req: ClientAuthRequest): Promise<string[]>;
  /** The client secret, for HS256 ID tokens; undefined for key-based and public clients. */
  hmacSecret(): string | undefined;
}

function requireSecret(secret: string, method: string): void {
  if (typeof secret !== "string" || secret === "") throw new OAuthError("ERR_OAUTH_CONFIG", `${method} needs a non-empty client secret`);
}

/** RFC 6749 §2.3.1: id and secret form-encoded, then joined and base64-encoded. */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

/**
 * HTTP Basic with the client ID and secret (RFC 6749 §2.3.1), the default of RFC 8414.
 *
 * @example
 * ```ts
 * const client = { clientId: "app", auth: clientSecretBasic(process.env.SECRET!) };
 * ```
 */
export function clientSecretBasic(secret: string): ClientAuth {
  requireSecret(secret, "client_secret_basic");
  return Object.freeze({
    method: "client_secret_basic" as const,
    async apply(req: ClientAuthRequest) {
      const basic = btoa(String.fromCharCode(...new TextEncoder().encode(`${formEncode(req.clientId)}:${formEncode(secret)}`)));
      req.headers.set("authorization", `Basic ${basic}`);
      return [secret, basic];
    },
    hmacSecret: () => secret,
  });
}

/**
 * `client_id` and `client_secret` in the form body (LINE Login and LINE WORKS do this).
 *
 * @example
 * ```ts
 * const client = { clientId: channelId, auth: clientSecretPost(channelSecret) };
 * ```
 */
export function clientSecretPost(secret: string): ClientAuth {
  requireSecret(secret, "client_secret_post");
  return Object.freeze({
    method: "client_secret_post" as const,
    async apply(req: ClientAuthRequest) {
      req.params.set("client_id", req.clientId);
      req.params.set("client_secret", secret);
      return [secret];
    },
    hmacSecret: () => secret,
  });
}

/**
 * A signed client assertion (RFC 7523 §2.2): `iss` = `sub` = client ID, `aud` = the issuer, a fresh
 * `jti`, valid for 60 seconds.
 *
 * @example
 * ```ts
 * const { privateKey } = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
 * const client = { clientId: "app", auth: privateKeyJwt(privateKey, { alg: "ES256", kid: "k1" }) };
 * ```
 */
export function privateKeyJwt(key: CryptoKey, options: { alg?: string; kid?: string } = {}): ClientAuth {
  const alg = options.alg ?? "RS256";
  if (key?.type !== "private") throw new OAuthError("ERR_OAUTH_CONFIG", "private_key_jwt needs a private CryptoKey");
  return Object.freeze({
    method: "private_key_jwt" as const,
    async apply(req: ClientAuthRequest) {
      const iat = Math.floor(req.now / 1000);
      const assertion = await new SignJWT({})
        .setProtectedHeader(options.kid === undefined ? { alg } : { alg, kid: options.kid })
        .setIssuer(req.clientId)
        .setSubject(req.clientId)
        .setAudience(req.audience)
        .setJti(randomToken(16))
        .setIssuedAt(iat)
        .setExpirationTime(iat + 60)
        .sign(key);
      req.params.set("client_id", req.clientId);
      req.params.set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
      req.params.set("client_assertion", assertion);
      return [assertion];
    },
    hmacSecret: () => undefined,
  });
}

/**
 * A public client (RFC 6749 §2.1): only `client_id` is sent; PKCE is its protection.
 *
 * @example
 * ```ts
 * const client = { clientId: "cli-app", auth: noClientAuth() };
 * ```
 */
export function noClientAuth(): ClientAuth {
  return Object.freeze({
    method: "none" as const,
    async apply(req: ClientAuthRequest) {
      req.params.set("client_id", req.clientId);
      return [];
    },
    hmacSecret: () => undefined,
  });
}

/**
 * The client: its ID, how it authenticates, and options every call shares.
 *
 * @example
 * ```ts
 * const client: OAuthClient = { clientId: "app", auth: clientSecretBasic(secret) };
 * ```
 */
export interface OAuthClient {
  clientId: string;
  auth: ClientAuth;
}

/** Applies the client's authentication to a form request; returns the secrets to redact. */
export async function authenticate(client: OAuthClient, audience: string, params: URLSearchParams, headers: Headers, now: number): Promise<string[]> {
  if (typeof client.clientId !== "string" || client.clientId === "") throw new OAuthError("ERR_OAUTH_CONFIG", "clientId is empty");
  return client.auth.apply({ clientId: client.clientId, audience, params, headers, now });
}
