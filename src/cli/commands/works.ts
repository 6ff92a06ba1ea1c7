// `kagiya works add|list|show|remove`: LINE WORKS apps (service accounts) in the credential
// registry, as kind `line-works`. Secrets come only from environment variables and go in sealed;
// tokens are had with `kagiya token get ID` like a LINE channel's.
import { InvalidInputError } from "../../core/errors.ts";
import { checkServiceAccount, checkWorksClientId, parseWorksScopes } from "../../core/jwt/works-assertion.ts";
import { importAssertionKey } from "../../core/keys/import.ts";
import { lintKey } from "../../core/keys/lint.ts";
import { parseKey } from "../../core/keys/parse.ts";
import { checkWorksRefreshPolicy, LINE_WORKS_KIND, worksAppOf } from "../../kinds/line-works/index.ts";
import { worksTokenApi } from "../../clients/works/port.ts";
import { readTextFile } from "../../node/read-text.ts";
import { ChannelNotFoundError } from "../../store/errors.ts";
import { validateCredentialId } from "../../store/credential-input.ts";
import type { ChannelRow } from "../../store/types.ts";
import { openTokenContext, type TokenContext } from "../../tokens/context.ts";
import { parseArgs, required } from "../args.ts";
import { JSON_FLAG, SEALED_STORE_ENV, STORE_FLAG, type CommandHelp } from "../help.ts";
import type { Command } from "../io.ts";
import { removeCommand, revokeAndRemove } from "../remove-credential.ts";
import { secretFromEnv } from "../secret-env.ts";

/** The flags of `works add`, documented: its --help is rendered from this spec. */
const ADD_FLAGS = {
  id: { kind: "string", value: "ID", help: 'a name for the app in kagiya: 1-64 letters, digits, ".", "_", "-" (e.g. works-billing)' },
  "client-id": { kind: "string", value: "CID", help: "the app's Client ID (Developer Console > API 2.0)" },
  "client-secret-env": { kind: "string", value: "VAR", help: "name of the variable holding the app's Client Secret (never the secret itself)" },
  "service-account": { kind: "string", value: "SA", help: "service account ID, e.g. ab1cd.serviceaccount@example.com" },
  key: { kind: "string", value: "FILE", help: "the service account's private key: the console's PKCS #8 PEM, or a JWK" },
  scope: { kind: "string", value: "SCOPES", help: 'scopes, space- or comma-separated (e.g. "bot user.read")', default: "bot" },
  refresh: { kind: "string", value: "POLICY", help: "how tokens are renewed: assertion (a fresh JWT each time) or refresh-token (the first by a JWT, then by the stored refresh token, rotation on or off; a refused one falls back to a JWT)", default: "assertion" },
  "bot-id": { kind: "string", value: "BOT", help: "the app's bot ID, for bot messages and callbacks (with --bot-secret-env)" },
  "bot-secret-env": { kind: "string", value: "VAR", help: "name of the variable holding the bot's Bot Secret (with --bot-id)" },
  replace: { kind: "boolean", help: "replace an app already registered (its tokens are kept)" },
  store: STORE_FLAG,
  json: JSON_FLAG,
} as const;

/** Longest Client Secret or Bot Secret stored (LINE WORKS' are a few dozen characters). */
export const MAX_WORKS_SECRET_CHARS = 1024;
/** LINE WORKS key findings that are LINE's registration rules, not LINE WORKS' (it takes the key without them). */
const NOT_WORKS_RULES = new Set(["KEY_ALG_MISSING", "KEY_USE_MISSING"]);

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Checks a service account's key given as text (`what` names it in messages, `field` in the
 * error): the console's PKCS #8 PEM or a private JWK (anything else, PKCS #1 included, is
 * refused), held to `keys lint`'s rules for an RS256 key; returns the JWK. Shared by `works add`
 * and `channel import`, so both take exactly the same keys. Messages never quote key material.
 */
export async function checkWorksKey(text: string, what: string, field: string): Promise<Record<string, unknown>> {
  const trimmed = text.trim();
  if (trimmed.startsWith("-----BEGIN") && !trimmed.startsWith("-----BEGIN PRIVATE KEY-----")) {
    const label = /^-----BEGIN ([A-Z0-9 ]{1,40})-----/.exec(trimmed)?.[1] ?? "another PEM";
    throw new InvalidInputError(`${what} is a ${label} PEM: a LINE WORKS app needs the service account's private key as PKCS #8 (-----BEGIN PRIVATE KEY-----, as the Developer Console gives it) or a JWK`, { field });
  }
  if (!trimmed.startsWith("-----BEGIN") && !trimmed.startsWith("{")) {
    throw new InvalidInputError(`${what} is neither a PKCS #8 PEM nor a JWK: give the private key file the Developer Console gave (private_*.key)`, { field });
  }
  const lint = await lintKey(text);
  if (lint.kind !== "private") throw new InvalidInputError(`${what} is a public key: a LINE WORKS app needs the service account's private key`, { field });
  const findings = lint.findings.filter((f) => !NOT_WORKS_RULES.has(f.code));
  if (findings.length > 0) {
    const list = findings.map((f) => `${f.field}: ${f.message}`).join("; ");
    throw new InvalidInputError(`${what} fails keys lint (${list})`, { field });
  }
  const { jwk } = await parseKey(text);
  await importAssertionKey(jwk as Record<string, unknown>); // it must also import for RS256 signing
  return jwk as Record<string, unknown>;
}

/** The names under which `works add` (flags) or `channel import` (JSON members) report each setting. */
export interface WorksFieldNames {
  clientId: string;
  serviceAccount: string;
  scope: string;
  refresh: string;
  botId: string;
  botSecret: string;
}

/**
 * Validates a LINE WORKS app's public settings (refresh policy, Client ID, service account,
 * scopes, bot ID, which needs a Bot Secret and the other way round) and returns them as stored.
 * `hasBotSecret` says whether a Bot Secret was given. Shared by `works add` and `channel import`.
 */
export function checkWorksSettings(
  v: { clientId: unknown; serviceAccount: unknown; scope: unknown; refresh: unknown; botId: unknown; hasBotSecret: boolean },
  names: WorksFieldNames,
): Record<string, string> {
  const refresh = checkWorksRefreshPolicy(v.refresh ?? "assertion", names.refresh);
  const clientId = checkWorksClientId(v.clientId, names.clientId);
  const serviceAccount = checkServiceAccount(v.serviceAccount, names.serviceAccount);
  const scope = parseWorksScopes(v.scope ?? "bot", names.scope).join(" ");
  if ((v.botId === undefined) !== !v.hasBotSecret) {
    throw new InvalidInputError(`${names.botId} and ${names.botSecret} go together (a bot needs its Bot Secret to check callbacks)`, { field: v.botId === undefined ? names.botId : names.botSecret });
  }
  const botId = v.botId === undefined ? undefined : checkBotId(v.botId, names.botId);
  return { clientId, serviceAccount, scope, refresh, ...(botId !== undefined ? { botId } : {}) };
}

/** A bot ID as LINE WORKS writes them (digits, in practice); checked before anything is stored. */
function checkBotId(value: unknown, field: string): string {
  if (typeof value !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(value)) {
    const shown = typeof value === "string" ? `, not ${JSON.stringify(value.slice(0, 40))}` : "";
    throw new InvalidInputError(`${field} must be the bot's ID (letters, digits, "_" and "-", at most 64)${shown}`, { field });
  }
  return value;
}

const ADD_FIELDS: WorksFieldNames = { clientId: "--client-id", serviceAccount: "--service-account", scope: "--scope", refresh: "--refresh", botId: "--bot-id", botSecret: "--bot-secret-env" };

const add: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, ADD_FLAGS);
  if (positionals.length > 0) throw new InvalidInputError("works add takes no positional arguments (secrets are never flag values: use --client-secret-env VAR)");
  const id = required(flags.id, "id");
  validateCredentialId(id);
  const settings = checkWorksSettings(
    {
      clientId: required(flags["client-id"], "client-id"),
      serviceAccount: required(flags["service-account"], "service-account"),
      scope: flags.scope,
      refresh: flags.refresh,
      botId: flags["bot-id"],
      hasBotSecret: flags["bot-secret-env"] !== undefined,
    },
    ADD_FIELDS,
  );
  const { clientId, scope } = settings;
  const keyFile = required(flags.key, "key");
  const keyText = await readTextFile(keyFile, { cwd: io.cwd, what: "key file (--key)" });
  const privateKey = await checkWorksKey(keyText, `key file ${keyFile}`, "--key");
  const secrets: Record<string, string> = { clientSecret: secretFromEnv(io, "--client-secret-env", required(flags["client-secret-env"], "client-secret-env"), MAX_WORKS_SECRET_CHARS) };
  if (flags["bot-secret-env"] !== undefined) secrets["botSecret"] = secretFromEnv(io, "--bot-secret-env", flags["bot-secret-env"], MAX_WORKS_SECRET_CHARS);
  const ctx = await openTokenContext({ store: flags.store, env: io.env, cwd: io.cwd });
  try {
    // The channel secret column is LINE's: a LINE WORKS app keeps its secrets in `secrets`.
    const ch = await ctx.registry.add({ channelId: id, kind: LINE_WORKS_KIND, kid: "", privateKey: privateKey as never, channelSecret: "", settings, secrets }, { replace: flags.replace === true });
    await ctx.store.appendAudit({ at: Date.now(), action: flags.replace ? "works.replace" : "works.add", actor: "cli", channelId: id, keyId: null, detail: `client ${clientId}, scope ${scope}` });
    if (flags.json) io.stdout(JSON.stringify({ id: ch.channelId, kind: ch.kind, settings: ch.settings, createdAt: ch.createdAt }) + "\n");
    else io.stdout(`added LINE WORKS app ${id} (client ${clientId}, scope ${scope}); get a token with: kagiya token get ${id}\n`);
  } finally {
    await ctx.close();
  }
  return 0;
};

/** The public view of an app: its settings, never a secret. */
function publicView(r: ChannelRow) {
  const s = r.settings;
  return { id: r.channelId, clientId: s["clientId"], serviceAccount: s["serviceAccount"], scope: s["scope"], refresh: s["refresh"], botId: s["botId"] ?? null, createdAt: r.createdAt, updatedAt: r.updatedAt };
}

function onlyId(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new InvalidInputError(`works ${what} needs exactly one ID`, { field: "ID" });
  validateCredentialId(positionals[0]);
  return positionals[0]!;
}

/** The app's row, or ChannelNotFoundError; another kind's credential under that ID is not an app. */
async function appRow(ctx: TokenContext, id: string): Promise<ChannelRow> {
  const row = await ctx.store.getChannel(id);
  if (row === null) throw new ChannelNotFoundError(id);
  if (row.kind !== LINE_WORKS_KIND) throw new InvalidInputError(`${id} is a ${row.kind} credential, not a LINE WORKS app (see kagiya channel show ${id})`, { field: "ID" });
  return row;
}

const list: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, { store: STORE_FLAG, json: JSON_FLAG });
  if (positionals.length > 0) throw new InvalidInputError("works list takes no arguments");
  const ctx = await openTokenContext({ store: flags.store, env: io.env, cwd: io.cwd });
  try {
    const apps = (await ctx.registry.listRows()).filter((r) => r.kind === LINE_WORKS_KIND).map(publicView);
    if (flags.json) io.stdout(JSON.stringify(apps) + "\n");
    else if (apps.length === 0) io.stdout("no LINE WORKS apps (add one with: kagiya works add --id ID --client-id CID --client-secret-env VAR --service-account SA --key FILE)\n");
    else {
      io.stdout(`${"ID".padEnd(24)} ${"CLIENT ID".padEnd(24)} ${"SCOPE".padEnd(24)} ADDED\n`);
      for (const a of apps) io.stdout(`${a.id.padEnd(24)} ${String(a.clientId).padEnd(24)} ${String(a.scope).padEnd(24)} ${iso(a.createdAt)}\n`);
    }
  } finally {
    await ctx.close();
  }
  return 0;
};

const show: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, { store: STORE_FLAG, json: JSON_FLAG });
  const id = onlyId(positionals, "show");
  const ctx = await openTokenContext({ store: flags.store, env: io.env, cwd: io.cwd, mustExist: true });
  try {
    const app = publicView(await appRow(ctx, id));
    const status = await ctx.manager.status(id);
    const current = status.tokens.find((t) => t.state === "valid");
    const grant = status.grant ?? null;
    const out = { ...app, tokens: status.tokens.length, expiresAt: current?.expiresAt ?? null, lastRefreshAt: status.lastRefreshAt, lastError: status.lastError, grant };
    if (flags.json) io.stdout(JSON.stringify(out) + "\n");
    else {
      io.stdout(
        [
          `app       ${id}`,
          `client    ${String(app.clientId)}`,
          `account   ${String(app.serviceAccount)}`,
          `scope     ${String(app.scope)}`,
          `refresh   ${String(app.refresh)}`,
          `bot       ${app.botId === null ? "(none)" : String(app.botId)}`,
          `added     ${iso(app.createdAt)}`,
          `token     ${current === undefined ? "none yet" : `expires ${iso(current.expiresAt)}`}`,
          ...(grant === null ? [] : [`grant     refresh token v${grant.version} ${grant.status}${grant.pendingWrite ? " (write pending)" : ""}`]),
          ...(status.lastError === null ? [] : [`error     ${status.lastError.code}: ${status.lastError.message}`]),
          "",
        ].join("\n"),
      );
    }
  } finally {
    await ctx.close();
  }
  return 0;
};

/**
 * Revokes the app's stored refresh token (policy `refresh-token`) at LINE WORKS; false when it
 * keeps none. LINE WORKS' refusal or an unreachable LINE WORKS is thrown.
 */
async function revokeRefreshToken(ctx: TokenContext, id: string, env: Record<string, string | undefined>): Promise<boolean> {
  const state = await ctx.store.getGrant(id);
  if (state === null || state.status !== "active") return false;
  const app = worksAppOf(await ctx.registry.require(id));
  await worksTokenApi({ env }).revoke(app, ctx.registry.openGrant(state).refreshToken);
  return true;
}

const remove = removeCommand(
  { "keep-tokens": { kind: "boolean", help: "remove without revoking its refresh token and tokens first (they stay valid at LINE WORKS until they expire)" } },
  (positionals) => onlyId(positionals, "remove"),
  async (ctx, id, flags, io) => {
    await appRow(ctx, id);
    let refreshTokenRevoked = false;
    const revokeGrant = async (): Promise<boolean> => (refreshTokenRevoked = await revokeRefreshToken(ctx, id, io.env));
    const revoked = await revokeAndRemove(ctx, id, { keepTokens: flags["keep-tokens"] === true, label: `LINE WORKS app ${id}`, action: "works.remove", revokeGrant });
    if (flags.json) io.stdout(JSON.stringify({ id, removed: true, revoked, refreshTokenRevoked }) + "\n");
    else io.stdout(`removed LINE WORKS app ${id}${revoked.length || refreshTokenRevoked ? ` (revoked ${[...(revoked.length ? [`${revoked.length} token(s)`] : []), ...(refreshTokenRevoked ? ["the refresh token"] : [])].join(" and ")})` : ""}\n`);
  },
);

/** Subcommands of `kagiya works`. */
export const commands: Record<string, Command> = { add, list, show, remove };

const WORKS_ENV = [...SEALED_STORE_ENV, "KAGIYA_WORKS_AUTH_BASE"];

/** Help for `kagiya works …`. */
export const help: Record<string, CommandHelp> = {
  add: {
    summary: "register a LINE WORKS app: Client ID and Secret, service account, its private key, scopes (and a bot)",
    description: "Secrets are never flag values: --client-secret-env and --bot-secret-env name variables holding them.\nSecrets and the key are sealed with the master key before they are stored. Tokens: kagiya token get ID.",
    env: SEALED_STORE_ENV,
    example: 'WORKS_SECRET=... kagiya works add --id works-billing --client-id CID --client-secret-env WORKS_SECRET --service-account ab1cd.serviceaccount@example.com --key private_20260101.key --scope "bot user.read"',
  },
  list: { summary: "list registered LINE WORKS apps (ID, Client ID, scope, when added)", env: SEALED_STORE_ENV, example: "kagiya works list --json" },
  show: { summary: "show one LINE WORKS app: client, service account, scope, refresh policy, current token's expiry", args: "ID", env: SEALED_STORE_ENV, example: "kagiya works show works-billing" },
  remove: {
    summary: "revoke the app's refresh token (if it keeps one) and its access tokens at LINE WORKS, then forget the app",
    args: "ID",
    env: WORKS_ENV,
    failure: "a token could not be revoked (nothing removed), or LINE WORKS or the store is unreachable",
    example: "kagiya works remove works-billing",
  },
};
