// `kagiya channel add|list|show|remove`: the channel registry from the command line. Secrets
// (private key, channel secret) go in sealed and never come out here.
import { InvalidInputError } from "../../core/errors.ts";
import { parseDuration } from "../../core/duration.ts";
import { importAssertionKey } from "../../core/keys/import.ts";
import { lintKey } from "../../core/keys/lint.ts";
import { parseKey } from "../../core/keys/parse.ts";
import { readTextFile } from "../../node/read-text.ts";
import { ChannelNotFoundError } from "../../store/errors.ts";
import { validateChannelId, validatePolicy } from "../../store/credential-input.ts";
import type { TokenPolicyOverrides } from "../../store/types.ts";
import { openTokenContext } from "../../tokens/context.ts";
import { cliKinds } from "../kinds.ts";
import { parseArgs, required } from "../args.ts";
import { removeCommand, revokeAndRemove } from "../remove-credential.ts";
import { JSON_FLAG, SEALED_STORE_ENV, STORE_FLAG, type CommandHelp } from "../help.ts";
import type { CliIO, Command } from "../io.ts";

/** The flags of `channel add`, documented: its --help is rendered from this spec. */
const ADD_FLAGS = {
  id: { kind: "string", value: "ID", help: "channel ID (the number in the LINE Developers Console)" },
  kid: { kind: "string", value: "KID", help: "key ID LINE gave when the public key was registered" },
  key: { kind: "string", value: "FILE", help: "private assertion key, JWK or PEM (private.jwk.json from kagiya keys generate)" },
  "secret-env": { kind: "string", value: "VAR", help: "name of the variable holding the channel secret", default: "first line of standard input" },
  lifetime: { kind: "string", value: "DURATION", help: "token lifetime to ask LINE for, at most 30d; e.g. 30d, 12h (v2.1 only)", default: "7d" },
  "token-kind": { kind: "string", value: "KIND", help: "v2.1 (JWT assertion, up to 30 days, 30 per channel) or stateless (about 15 minutes, no cap, not revocable)", default: "v2.1" },
  auth: { kind: "string", value: "HOW", help: "for stateless tokens: assertion (signed JWT) or secret (channel ID and secret)", default: "assertion" },
  replace: { kind: "boolean", help: "replace a channel already registered (its tokens are kept)" },
  store: STORE_FLAG,
  json: JSON_FLAG,
} as const;

const iso = (ms: number): string => new Date(ms).toISOString();

export function onePositional(positionals: string[], what: string, usage: string): string {
  if (positionals.length !== 1) throw new InvalidInputError(`${what} needs exactly one ${usage}`, { field: usage });
  return positionals[0]!;
}

/** Longest channel secret the registry stores (LINE's are 32 hexadecimal characters). */
export const MAX_SECRET_CHARS = 1024;

/** Reads the channel secret from the named variable, or the first line of standard input. */
async function readSecret(io: CliIO, envName: string | undefined): Promise<string> {
  if (envName !== undefined) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(envName)) throw new InvalidInputError(`--secret-env takes a variable name, not a value`, { field: "--secret-env" });
    const v = io.env[envName];
    if (v === undefined || v === "") throw new InvalidInputError(`environment variable ${envName} (from --secret-env) is not set`, { field: "--secret-env" });
    return secretOfLength(v.trim(), `the variable ${envName}`);
  }
  // On a terminal: a prompt with echo off. Piped: the first line, with nothing written to stderr.
  const line = io.readHiddenLine
    ? (await io.readHiddenLine("channel secret (not echoed): ")).trim()
    : ((await io.readStdin()).split(/\r?\n/)[0]?.trim() ?? "");
  if (line === "") throw new InvalidInputError("no channel secret given: pipe it on standard input or name a variable with --secret-env VAR", { field: "--secret-env" });
  return secretOfLength(line, io.readHiddenLine ? "what was typed" : "the first line of standard input");
}

/** The secret, or a refusal that says what is wrong with its length (never the secret itself). */
function secretOfLength(secret: string, source: string): string {
  if (secret.length > MAX_SECRET_CHARS) {
    throw new InvalidInputError(
      `the channel secret (${source}) is ${secret.length} characters, over the limit of ${MAX_SECRET_CHARS}: a LINE channel secret is 32 hexadecimal characters (LINE Developers Console > Basic settings)`,
      { field: "--secret-env" },
    );
  }
  return secret;
}

/**
 * Reads the private assertion key (JWK or PEM) and holds it to `keys lint`'s rules for a private
 * key; returns it as a JWK for the registry.
 */
async function readPrivateKey(io: CliIO, file: string): Promise<Record<string, unknown>> {
  const text = await readTextFile(file, { cwd: io.cwd, what: "key file (--key)" });
  const lint = await lintKey(text);
  if (lint.kind !== "private") {
    throw new InvalidInputError(`key file ${file} is a public key: channel add needs the private key (private.jwk.json from kagiya keys generate)`, { field: "--key" });
  }
  if (lint.findings.length > 0) {
    const list = lint.findings.map((f) => `${f.field}: ${f.message}`).join("; ");
    throw new InvalidInputError(`key file ${file} fails keys lint (${list}); see kagiya keys lint ${file}`, { field: "--key" });
  }
  const { jwk } = await parseKey(text);
  await importAssertionKey(jwk as Record<string, unknown>); // it must also import for RS256 signing
  return jwk as Record<string, unknown>;
}

function policyFromFlags(flags: { lifetime?: string }): TokenPolicyOverrides {
  const policy: TokenPolicyOverrides = {};
  if (flags.lifetime !== undefined) policy.lifetimeSeconds = parseDuration(flags.lifetime, "--lifetime");
  return validatePolicy(policy);
}

/** `--token-kind` values and the credential kinds they name. */
const TOKEN_KINDS: Record<string, string> = { "v2.1": "line-v2.1", stateless: "line-stateless" };

function kindFromFlags(flags: { "token-kind"?: string; auth?: string }): { kind: string; settings: Record<string, string> } {
  const given = flags["token-kind"] ?? "v2.1";
  const kind = TOKEN_KINDS[given];
  if (kind === undefined) throw new InvalidInputError(`--token-kind must be v2.1 or stateless, not ${JSON.stringify(given.slice(0, 40))}`, { field: "--token-kind" });
  if (flags.auth === undefined) return { kind, settings: {} };
  if (kind !== "line-stateless") throw new InvalidInputError("--auth applies to stateless tokens only (v2.1 tokens are always issued with a JWT assertion)", { field: "--auth" });
  if (flags.auth !== "assertion" && flags.auth !== "secret") throw new InvalidInputError(`--auth must be assertion or secret, not ${JSON.stringify(flags.auth.slice(0, 40))}`, { field: "--auth" });
  return { kind, settings: { auth: flags.auth } };
}

const add: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, ADD_FLAGS);
  if (positionals.length > 0) throw new InvalidInputError(`channel add takes no positional arguments (the secret is never a flag value: use --secret-env VAR or standard input)`);
  const channelId = required(flags.id, "id");
  validateChannelId(channelId);
  const kid = required(flags.kid, "kid");
  const privateKey = await readPrivateKey(io, required(flags.key, "key"));
  const { kind, settings } = kindFromFlags(flags);
  const policy = policyFromFlags(flags);
  // Validated by the kind before anything is opened or written.
  cliKinds(io.env).get(kind).resolvePolicy(policy);
  const channelSecret = await readSecret(io, flags["secret-env"]);
  const ctx = await openTokenContext({ store: flags.store, env: io.env, cwd: io.cwd });
  try {
    const ch = await ctx.registry.add({ channelId, kid, privateKey: privateKey as never, channelSecret, policy, kind, settings }, { replace: flags.replace === true });
    await ctx.store.appendAudit({ at: Date.now(), action: flags.replace ? "channel.replace" : "channel.add", actor: "cli", channelId, keyId: null, detail: `kid ${kid}, ${kind}` });
    if (flags.json) io.stdout(JSON.stringify({ channelId: ch.channelId, kid: ch.kid, kind: ch.kind, settings: ch.settings, policy: ch.policy, createdAt: ch.createdAt }) + "\n");
    else io.stdout(`added channel ${ch.channelId} (kid ${ch.kid}${kind === "line-v2.1" ? "" : ", stateless tokens"})\n`);
  } finally {
    await ctx.close();
  }
  return 0;
};

const list: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, { store: STORE_FLAG, json: JSON_FLAG });
  if (positionals.length > 0) throw new InvalidInputError("channel list takes no arguments");
  const ctx = await openTokenContext({ store: flags.store, env: io.env, cwd: io.cwd });
  try {
    const rows = await ctx.registry.listRows();
    const out = rows.map((r) => ({ channelId: r.channelId, kid: r.kid, kind: r.kind, policy: r.policy, createdAt: r.createdAt, updatedAt: r.updatedAt }));
    if (flags.json) io.stdout(JSON.stringify(out) + "\n");
    else if (out.length === 0) io.stdout("no channels (add one with: kagiya channel add --id ID --kid KID --key FILE --secret-env VAR)\n");
    else {
      io.stdout(`${"CHANNEL".padEnd(20)} ${"KIND".padEnd(15)} ${"KID".padEnd(38)} ADDED\n`);
      for (const r of out) io.stdout(`${r.channelId.padEnd(20)} ${r.kind.padEnd(15)} ${r.kid.padEnd(38)} ${iso(r.createdAt)}\n`);
    }
  } finally {
    await ctx.close();
  }
  return 0;
};

const show: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, { store: STORE_FLAG, json: JSON_FLAG });
  const channelId = onePositional(positionals, "channel show", "CHANNEL");
  validateChannelId(channelId);
  const ctx = await openTokenContext({ store: flags.store, env: io.env, cwd: io.cwd, mustExist: true });
  try {
    const row = (await ctx.registry.listRows()).find((r) => r.channelId === channelId);
    if (!row) throw new ChannelNotFoundError(channelId);
    const policy = ctx.manager.policyFor(row.kind, row.policy);
    const status = await ctx.manager.status(channelId);
    const out = { channelId, kid: row.kid, kind: row.kind, settings: row.settings, policy, createdAt: row.createdAt, updatedAt: row.updatedAt, budgetUsed: status.budgetUsed, budgetLimit: status.budgetLimit, tokens: status.tokens.length };
    if (flags.json) io.stdout(JSON.stringify(out) + "\n");
    else {
      io.stdout(
        [
          `channel   ${channelId}`,
          `kid       ${row.kid}`,
          `kind      ${row.kind}${row.settings["auth"] !== undefined ? ` (auth: ${String(row.settings["auth"])})` : ""}`,
          `added     ${iso(row.createdAt)}`,
          `lifetime  ${policy.lifetimeSeconds} s, refresh at ${policy.refreshMin * 100}-${policy.refreshMax * 100} %, grace ${policy.revokeGraceSeconds} s`,
          status.budgetLimit === null ? `live      ${status.budgetUsed} token(s) (no cap)` : `budget    ${status.budgetUsed} of ${status.budgetLimit} valid tokens used`,
          "",
        ].join("\n"),
      );
    }
  } finally {
    await ctx.close();
  }
  return 0;
};

const remove = removeCommand(
  { "keep-tokens": { kind: "boolean", help: "remove without revoking its tokens first (they stay valid at LINE until they expire)" } },
  (positionals) => {
    const channelId = onePositional(positionals, "channel remove", "CHANNEL");
    validateChannelId(channelId);
    return channelId;
  },
  async (ctx, channelId, flags, io) => {
    if (!(await ctx.store.getChannel(channelId))) throw new ChannelNotFoundError(channelId);
    const revoked = await revokeAndRemove(ctx, channelId, { keepTokens: flags["keep-tokens"] === true, label: `channel ${channelId}`, action: "channel.remove" });
    if (flags.json) io.stdout(JSON.stringify({ channelId, removed: true, revoked }) + "\n");
    else io.stdout(`removed channel ${channelId}${revoked.length ? ` (revoked ${revoked.length} token(s))` : ""}\n`);
  },
);

/** Subcommands of `kagiya channel`. */
export const commands: Record<string, Command> = {
  add,
  list,
  show,
  remove,
  import: async (argv, io) => (await import("./channel-import.ts")).importChannels(argv, io),
  export: async (argv, io) => (await import("./channel-import.ts")).exportChannels(argv, io),
};

/** Help for `kagiya channel …`. */
export const help: Record<string, CommandHelp> = {
  add: {
    summary: "register a LINE channel: its ID, the kid of its assertion key, the private key and the channel secret",
    description: "The secret is never a flag value: it comes from --secret-env VAR or the first line of standard input.\nSecrets are sealed with the master key before they are stored.",
    env: SEALED_STORE_ENV,
    example: "CHANNEL_SECRET=... kagiya channel add --id 1234567890 --kid KID --key keys/private.jwk.json --secret-env CHANNEL_SECRET",
  },
  list: { summary: "list registered channels (ID, kid, when added)", env: SEALED_STORE_ENV, example: "kagiya channel list --json" },
  show: { summary: "show one channel: kid, token policy and budget used", args: "CHANNEL", env: SEALED_STORE_ENV, example: "kagiya channel show 1234567890" },
  remove: {
    summary: "revoke the channel's tokens at LINE, then forget the channel",
    args: "CHANNEL",
    env: [...SEALED_STORE_ENV, "KAGIYA_LINE_API_BASE"],
    failure: "a token could not be revoked (nothing removed), or LINE or the store is unreachable",
    example: "kagiya channel remove 1234567890",
  },
  import: {
    summary: "register many LINE channels and LINE WORKS apps from a JSON Lines file (all or nothing; the file must be readable by its owner only)",
    args: "FILE",
    description: "One credential per line: {\"id\",\"kid\",\"key\" (JWK or PEM),\"secret\",\"kind\",\"auth\",\"policy\"} for a LINE channel;\n{\"kind\":\"line-works\",\"id\",\"clientId\",\"clientSecret\",\"serviceAccount\",\"key\" (PKCS #8 PEM or JWK),\"scope\",\"refresh\",\"botId\",\"botSecret\"} for a LINE WORKS app, checked as works add checks it.\nEvery line is checked first; a refused line is reported with its number and field and nothing is written.\nA line identical to a registered credential is skipped; a different one is refused unless --replace.",
    env: SEALED_STORE_ENV,
    example: "kagiya channel import credentials.jsonl --dry-run",
  },
  export: { summary: "print every credential's public part as JSON Lines (id, kind, kid, settings, policy; never a secret)", example: "kagiya channel export > channels-public.jsonl" },
};
