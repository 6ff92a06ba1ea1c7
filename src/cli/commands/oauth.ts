// `kagiya oauth add|login|token|fetch|revoke|list|remove`: OAuth 2.0 authorization-code grants
// (seed 004). A provider registration is a credential of kind `oauth2` named NAME (public settings;
// the client secret sealed in its secrets); `oauth login NAME` stores that credential's grant (the
// refresh token sealed in the store's grants), and tokens come from the engine like any other kind.
import { InvalidInputError } from "../../core/errors.ts";
import { discoverProvider, OAUTH_PRESETS, scopeList } from "../../clients/oauth/index.ts";
import { OAuthError } from "../../clients/oauth/errors.ts";
import {
  checkApiOrigin, checkEndpoint, checkPreset, parseAuthParams, checkProviderName, insecureHttpAllowed, isWebGrant, OAUTH2_KIND, providerNameOf,
  REGISTRATION_AUTH_METHODS, registrationSettings, type OAuthRegistration,
} from "../../kinds/oauth2/registration.ts";
import { grantSummaries, registrationRow, revokeGrant } from "../../tokens/oauth-grants.ts";
import { openTokenContext } from "../../tokens/context.ts";
import { parseArgs, required } from "../args.ts";
import { JSON_FLAG, SEALED_STORE_ENV, STORE_FLAG, type CommandHelp } from "../help.ts";
import type { Command } from "../io.ts";
import { secretFromEnv } from "../secret-env.ts";
import { removeCommand } from "../remove-credential.ts";
import { readClientKeyFile } from "../client-key-file.ts";
import { checkClientKeyId, CLIENT_KEY_ALGS } from "../../kinds/oauth2/client-key.ts";
import { fetchCommand, login, revokeCommand, token, OAUTH_ENV } from "./oauth-grant.ts";

/** Longest client secret stored. */
const MAX_SECRET_CHARS = 4096;

/** `--allow-insecure`, shared by every command that talks to the provider. */
export const INSECURE_FLAG = { kind: "boolean", help: "allow plain http endpoints off loopback (never in production)", env: "KAGIYA_ALLOW_INSECURE_HTTP" } as const;

const ADD_FLAGS = {
  issuer: { kind: "string", value: "URL", help: "the provider's issuer: endpoints are discovered (OpenID Connect Discovery, then RFC 8414)" },
  "authorize-url": { kind: "string", value: "URL", help: "authorization endpoint, for a provider without discovery (with --token-url)" },
  "token-url": { kind: "string", value: "URL", help: "token endpoint, for a provider without discovery (with --authorize-url)" },
  "revoke-url": { kind: "string", value: "URL", help: "revocation endpoint (RFC 7009), with explicit endpoints" },
  "userinfo-url": { kind: "string", value: "URL", help: "userinfo endpoint, with explicit endpoints" },
  preset: { kind: "string", value: "NAME", help: `a known provider instead of --issuer or endpoints: ${Object.keys(OAUTH_PRESETS).join(", ")}` },
  "client-id": { kind: "string", value: "ID", help: "the client ID registered at the provider (LINE Login: the channel ID)" },
  "client-secret-env": { kind: "string", value: "VAR", help: "name of the variable holding the client secret (never the secret itself); not for --auth-method none" },
  "auth-method": { kind: "string", value: "METHOD", help: `client authentication: ${REGISTRATION_AUTH_METHODS.join(", ")}`, default: "client_secret_basic (a preset's own)" },
  key: { kind: "string", value: "FILE", help: "with --auth-method private_key_jwt: the client's private key, a PKCS #8 PEM or a JWK (RSA 2048+, EC P-256/384/521, Ed25519)" },
  "key-id": { kind: "string", value: "KID", help: "with --key: the key ID the provider knows the key by (the assertion's kid header)" },
  "key-alg": { kind: "string", value: "ALG", help: `with --key: ${CLIENT_KEY_ALGS.join(", ")}`, default: "the key's alg, else RS256 for RSA, the curve's for EC, EdDSA for Ed25519" },
  scope: { kind: "string", value: "SCOPES", help: "space-separated scopes asked at login", default: '"openid offline_access" with --issuer, a preset\'s own, else none' },
  "redirect-uri": { kind: "string", value: "URI", help: "redirect URI registered at the provider for oauth login: loopback http (its port is used), or any URI with login --manual", default: "http://127.0.0.1:<free port>/callback" },
  "web-redirect-uri": { kind: "string", value: "URL", help: "serve's web login callback registered at the provider: https://HOST/oauth/NAME/callback" },
  "return-url": { kind: "string", value: "URL", help: "where serve's web login sends the user back, with ?grant=ID (or ?error=CODE)" },
  "auth-param": { kind: "strings", value: "NAME=VALUE", help: "an extra authorization parameter (LINE Login: bot_prompt=normal, …)" },
  "api-origin": { kind: "strings", value: "URL", help: "an origin the access token may be sent to (oauth fetch refuses others)", default: "the issuer's origin (a preset's API origin)" },
  "allow-insecure": INSECURE_FLAG,
  replace: { kind: "boolean", help: "replace a registration already stored (its grant is kept)" },
  store: STORE_FLAG,
  json: JSON_FLAG,
} as const;

function onlyName(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new InvalidInputError(`oauth ${what} needs exactly one NAME`, { field: "NAME" });
  return positionals[0]!;
}

/** A URL that must be https or loopback http; one line naming the flag otherwise. */
function optionalEndpoint(value: string | undefined, flag: string, insecure: boolean): string | undefined {
  return value === undefined ? undefined : checkEndpoint(value, flag, insecure);
}

/** A redirect URI as stored: absolute, no fragment; http only on loopback (unless insecure). */
function checkRedirectUri(value: string, flag: string, insecure: boolean): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new InvalidInputError(`${flag} is not an absolute URI`, { field: flag });
  }
  if (u.hash !== "") throw new InvalidInputError(`${flag} must not have a fragment (RFC 6749 §3.1.2)`, { field: flag });
  if (u.protocol === "http:" || u.protocol === "https:") return checkEndpoint(value, flag, insecure);
  return value;
}

const add: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, ADD_FLAGS);
  const name = checkProviderName(onlyName(positionals, "add"));
  const insecure = flags["allow-insecure"] === true || insecureHttpAllowed(io.env);
  const explicit = flags["authorize-url"] !== undefined || flags["token-url"] !== undefined;
  const sources = [flags.preset !== undefined, flags.issuer !== undefined, explicit].filter(Boolean).length;
  if (sources !== 1) throw new InvalidInputError("oauth add needs exactly one of --issuer URL, --authorize-url URL --token-url URL, or --preset NAME", { field: "--issuer" });
  if (!explicit && (flags["revoke-url"] !== undefined || flags["userinfo-url"] !== undefined)) {
    throw new InvalidInputError("--revoke-url and --userinfo-url go with --authorize-url and --token-url (a discovered or preset provider names its own)", { field: "--revoke-url" });
  }
  const preset = flags.preset === undefined ? undefined : checkPreset(flags.preset);
  const clientId = required(flags["client-id"], "client-id");
  if (clientId.length > 256 || /[\u0000-\u001f\s]/.test(clientId)) throw new InvalidInputError("--client-id must be at most 256 printable characters without spaces", { field: "--client-id" });
  const authMethod = flags["auth-method"] ?? preset?.clientAuthMethod ?? "client_secret_basic";
  if (!(REGISTRATION_AUTH_METHODS as readonly string[]).includes(authMethod)) {
    throw new InvalidInputError(`--auth-method must be one of ${REGISTRATION_AUTH_METHODS.join(", ")}, not ${JSON.stringify(authMethod.slice(0, 40))}`, { field: "--auth-method" });
  }
  let issuer: string;
  let authorizeUrl: string | undefined;
  let tokenUrl: string | undefined;
  if (preset !== undefined) issuer = preset.provider.issuer;
  else if (flags.issuer !== undefined) {
    issuer = flags.issuer;
    checkEndpoint(issuer, "--issuer", insecure);
  } else {
    authorizeUrl = checkEndpoint(required(flags["authorize-url"], "authorize-url"), "--authorize-url", insecure);
    tokenUrl = checkEndpoint(required(flags["token-url"], "token-url"), "--token-url", insecure);
    issuer = new URL(tokenUrl).origin;
  }
  const revokeUrl = optionalEndpoint(flags["revoke-url"], "--revoke-url", insecure);
  const userinfoUrl = optionalEndpoint(flags["userinfo-url"], "--userinfo-url", insecure);
  const redirectUri = flags["redirect-uri"] === undefined ? undefined : checkRedirectUri(flags["redirect-uri"], "--redirect-uri", insecure);
  const webRedirectUri = optionalEndpoint(flags["web-redirect-uri"], "--web-redirect-uri", insecure);
  if (webRedirectUri !== undefined && new URL(webRedirectUri).pathname !== `/oauth/${name}/callback`) {
    throw new InvalidInputError(`--web-redirect-uri must end in /oauth/${name}/callback (the route kagiya serve answers)`, { field: "--web-redirect-uri" });
  }
  const returnUrl = optionalEndpoint(flags["return-url"], "--return-url", insecure);
  const scope = scopeList(flags.scope ?? (preset ? preset.defaultScope.join(" ") : flags.issuer !== undefined ? "openid offline_access" : "")).join(" ");
  if (scope.length > 1024 || /[\u0000-\u001f"\\]/.test(scope)) throw new InvalidInputError("--scope must be space-separated scope names (at most 1024 characters)", { field: "--scope" });
  const apiOrigins = flags["api-origin"]?.map((o) => checkApiOrigin(o, insecure))
    ?? (preset ? [...preset.apiOrigins] : [new URL(checkEndpoint(issuer, "--issuer", insecure)).origin]);
  const secrets: Record<string, string> = {};
  let clientKey: { jwk: Record<string, unknown>; alg: string; kid: string } | undefined;
  if (authMethod === "private_key_jwt") {
    if (flags["client-secret-env"] !== undefined) throw new InvalidInputError("--auth-method private_key_jwt signs with --key: it takes no --client-secret-env", { field: "--client-secret-env" });
    const { jwk, alg } = await readClientKeyFile(required(flags.key, "key"), io.cwd, flags["key-alg"]);
    clientKey = { jwk, alg, kid: flags["key-id"] === undefined ? "" : checkClientKeyId(flags["key-id"]) };
  } else if (flags.key !== undefined || flags["key-id"] !== undefined || flags["key-alg"] !== undefined) {
    throw new InvalidInputError("--key, --key-id and --key-alg go with --auth-method private_key_jwt", { field: "--key" });
  } else if (authMethod === "none") {
    if (flags["client-secret-env"] !== undefined) throw new InvalidInputError("--auth-method none is a public client: it takes no --client-secret-env", { field: "--client-secret-env" });
  } else {
    secrets["clientSecret"] = secretFromEnv(io, "--client-secret-env", required(flags["client-secret-env"], "client-secret-env"), MAX_SECRET_CHARS);
  }
  const registration: OAuthRegistration = {
    name, preset: preset?.name, issuer, discovery: flags.issuer !== undefined, authorizeUrl, tokenUrl, revokeUrl, userinfoUrl, clientId,
    authMethod: authMethod as OAuthRegistration["authMethod"], scope, redirectUri, webRedirectUri, returnUrl, apiOrigins, allowInsecure: insecure,
    authParams: parseAuthParams(flags["auth-param"] ?? [], preset),
    keyAlg: clientKey?.alg,
  };
  if (registration.discovery) {
    // A provider whose discovery document is unusable is refused before anything is stored.
    try {
      await discoverProvider(issuer, { allowInsecureHttp: insecure, cacheMs: 0 });
    } catch (error) {
      const e = error as OAuthError;
      if (e.code === "ERR_OAUTH_DISCOVERY" || e.code === "ERR_OAUTH_CONFIG" || e.code === "ERR_OAUTH_INSECURE_HTTP") throw new InvalidInputError(`--issuer: ${e.message}`, { field: "--issuer", code: e.code });
      throw error;
    }
  }
  const ctx = await openTokenContext({ store: flags.store, env: io.env, cwd: io.cwd });
  try {
    const existing = await ctx.store.getChannel(name);
    if (existing !== null && existing.kind !== OAUTH2_KIND) throw new InvalidInputError(`${name} is a ${existing.kind} credential, not an OAuth provider: choose another NAME`, { field: "NAME" });
    // The key slot holds the client key of private_key_jwt (sealed), else an inert placeholder JWK.
    const privateKey = clientKey?.jwk ?? { kty: "none", d: "" };
    await ctx.registry.add({ channelId: name, kind: OAUTH2_KIND, kid: clientKey?.kid ?? "", privateKey: privateKey as never, channelSecret: "", settings: registrationSettings(registration), secrets }, { replace: flags.replace === true });
    await ctx.store.appendAudit({ at: Date.now(), action: flags.replace ? "oauth.replace" : "oauth.add", actor: "cli", channelId: name, keyId: null, detail: `client ${clientId}, issuer ${issuer}, scope ${scope || "(none)"}` });
    if (flags.json) io.stdout(JSON.stringify(publicView(registration)) + "\n");
    else io.stdout(`added OAuth provider ${name} (${issuer}, client ${clientId}); log in with: kagiya oauth login ${name}\n`);
  } finally {
    await ctx.close();
  }
  return 0;
};

/** A registration as shown: its public settings. */
function publicView(r: OAuthRegistration) {
  return {
    name: r.name, preset: r.preset ?? null, issuer: r.issuer, clientId: r.clientId, authMethod: r.authMethod, scope: r.scope,
    redirectUri: r.redirectUri ?? null, webRedirectUri: r.webRedirectUri ?? null, returnUrl: r.returnUrl ?? null, apiOrigins: r.apiOrigins, authParams: r.authParams,
    ...(r.keyAlg !== undefined ? { keyAlg: r.keyAlg } : {}),
  };
}

const list: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, {
    store: STORE_FLAG,
    json: JSON_FLAG,
    web: { kind: "boolean", help: "also list the per-user grants of serve's web logins (NAME.<id>)" },
  });
  if (positionals.length > 0) throw new InvalidInputError("oauth list takes no arguments");
  const ctx = await openTokenContext({ store: flags.store, env: io.env, cwd: io.cwd });
  try {
    const rows = (await ctx.registry.listRows()).filter((r) => r.kind === OAUTH2_KIND && (flags.web === true || !isWebGrant(r)));
    const summaries = await grantSummaries(ctx, rows);
    if (flags.json) io.stdout(JSON.stringify(summaries) + "\n");
    else if (summaries.length === 0) io.stdout("no OAuth providers (add one with: kagiya oauth add NAME --issuer URL --client-id ID --client-secret-env VAR)\n");
    else {
      io.stdout(`${"NAME".padEnd(28)} ${"ISSUER".padEnd(32)} ${"SCOPE".padEnd(28)} ${"EXPIRES".padEnd(24)} STATE\n`);
      for (const s of summaries) {
        io.stdout(`${s.name.padEnd(28)} ${s.issuer.padEnd(32)} ${(s.scope || "-").padEnd(28)} ${(s.expiresAt === null ? "-" : new Date(s.expiresAt).toISOString()).padEnd(24)} ${s.state}\n`);
      }
    }
  } finally {
    await ctx.close();
  }
  return 0;
};

const remove = removeCommand(
  {
    "keep-grants": { kind: "boolean", help: "remove without revoking the grants at the provider first (they stay valid there)" },
    "allow-insecure": INSECURE_FLAG,
  },
  (positionals) => checkProviderName(onlyName(positionals, "remove")),
  async (ctx, name, flags, io) => {
    await registrationRow(ctx, name);
    const ids = (await ctx.store.listChannels()).filter((r) => r.kind === OAUTH2_KIND && providerNameOf(r.channelId) === name).map((r) => r.channelId);
    // The provider's own row last: web grants need it to revoke.
    ids.sort((a, b) => Number(a === name) - Number(b === name));
    let revoked = 0;
    for (const id of ids) {
      if (flags["keep-grants"] !== true && (await revokeGrant(ctx, id, { env: io.env, insecure: flags["allow-insecure"] === true })) === "revoked") revoked++;
      await ctx.registry.remove(id);
    }
    await ctx.store.appendAudit({ at: Date.now(), action: "oauth.remove", actor: "cli", channelId: name, keyId: null, detail: `${ids.length - 1} web grant(s) removed with it, ${revoked} grant(s) revoked` });
    if (flags.json) io.stdout(JSON.stringify({ name, removed: true, grantsRevoked: revoked, webGrantsRemoved: ids.length - 1 }) + "\n");
    else io.stdout(`removed OAuth provider ${name}${revoked ? ` (revoked ${revoked} grant(s))` : ""}\n`);
  },
);

/** Subcommands of `kagiya oauth`. */
export const commands: Record<string, Command> = { add, login, token, fetch: fetchCommand, revoke: revokeCommand, list, remove };

/** Help for `kagiya oauth …`. */
export const help: Record<string, CommandHelp> = {
  add: {
    summary: "register an OAuth 2.0 provider: issuer (discovered) or endpoints or a preset, client ID and secret, scope, API origins",
    args: "NAME",
    description: [
      "The client secret is never a flag value: --client-secret-env names a variable holding it; it is sealed before it is stored.",
      "With --auth-method private_key_jwt the client authenticates with a signed assertion instead (RFC 7523): --key FILE (PKCS #8 PEM or JWK), --key-id, --key-alg; the key is checked and sealed, and no secret is taken.",
      "http endpoints other than loopback are refused unless --allow-insecure or KAGIYA_ALLOW_INSECURE_HTTP=1.",
      "A discovery document that cannot be read or lacks the endpoints is refused: nothing is stored.",
    ].join("\n"),
    env: [...OAUTH_ENV],
    example: 'CLIENT_SECRET=... kagiya oauth add acme --issuer https://id.acme.example --client-id kagiya --client-secret-env CLIENT_SECRET --scope "openid read offline_access" --api-origin https://api.acme.example',
  },
  login: {
    summary: "log in once: print the authorization URL, receive the redirect on a loopback listener (or --manual), store the grant",
    args: "NAME",
    description: [
      "Listens once on http://127.0.0.1:PORT/callback (RFC 8252), PKCE S256, state and nonce checked; the grant is sealed in the store.",
      "With --manual the code, or the whole redirect URL, is read from standard input (servers showing the code out of band).",
    ].join("\n"),
    env: [...OAUTH_ENV],
    failure: "the login was refused (state, iss, error=, ID token) or did not arrive before --timeout, or the provider is unreachable",
    example: "kagiya oauth login acme --no-browser",
  },
  token: {
    summary: "print a valid access token of the grant (refreshed when due, once across processes)",
    args: "NAME",
    env: [...OAUTH_ENV],
    failure: "the grant needs a new login (ERR_OAUTH_REAUTH_REQUIRED), or the provider or the store is unreachable",
    example: "kagiya oauth token acme",
  },
  fetch: {
    summary: "call a protected resource with the grant's token and print the response body (refresh and one retry on a 401)",
    args: "NAME URL",
    description: "Short forms: -X METHOD, -H \"K: V\", -d BODY. The token is sent only to the registration's API origins.",
    env: [...OAUTH_ENV],
    failure: "the resource answered 4xx/5xx, the grant needs a new login, or the provider or the store is unreachable",
    example: "kagiya oauth fetch acme https://api.acme.example/me",
  },
  revoke: {
    summary: "revoke the grant at the provider (refresh and access tokens) and forget it; the registration stays",
    args: "NAME",
    env: [...OAUTH_ENV],
    failure: "the provider refused or could not be reached (the grant is kept)",
    example: "kagiya oauth revoke acme",
  },
  list: { summary: "list OAuth providers and their grants: name, issuer, scope, token expiry, state (active, reauth_required, no_grant)", env: SEALED_STORE_ENV, example: "kagiya oauth list --json" },
  remove: {
    summary: "revoke the provider's grants (its own and serve's web logins), then forget the registration",
    args: "NAME",
    env: [...OAUTH_ENV],
    failure: "a grant could not be revoked, or the provider or the store is unreachable",
    example: "kagiya oauth remove acme",
  },
};
