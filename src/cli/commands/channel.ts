// `kagiya channel add|list|show|remove`: the channel registry from the command line. Secrets
// (private key, channel secret) go in sealed and never come out here.
import { InvalidInputError, KagiyaError } from "../../core/errors.ts";
import { parseDuration } from "../../core/duration.ts";
import { importAssertionKey } from "../../core/keys/import.ts";
import { lintKey } from "../../core/keys/lint.ts";
import { parseKey } from "../../core/keys/parse.ts";
import { ChannelNotFoundError } from "../../store/errors.ts";
import { validateChannelId, validatePolicy } from "../../store/registry.ts";
import type { TokenPolicyOverrides } from "../../store/types.ts";
import { openTokenContext } from "../../tokens/context.ts";
import { resolveTokenPolicy } from "../../tokens/policy.ts";
import { readTextFile } from "../../node/read-text.ts";
import { parseArgs, required } from "../args.ts";
import { JSON_FLAG, SEALED_STORE_ENV, STORE_FLAG, type CommandHelp } from "../help.ts";
import type { CliIO, Command } from "../io.ts";

/** The flags of `channel add`, documented: its --help is rendered from this spec. */
const ADD_FLAGS = {
  id: { kind: "string", value: "ID", help: "channel ID (the number in the LINE Developers Console)" },
  kid: { kind: "string", value: "KID", help: "key ID LINE gave when the public key was registered" },
  key: { kind: "string", value: "FILE", help: "private assertion key, JWK or PEM (private.jwk.json from kagiya keys generate)" },
  "secret-env": { kind: "string", value: "VAR", help: "name of the variable holding the channel secret", default: "first line of standard input" },
  lifetime: { kind: "string", value: "DURATION", help: "token lifetime to ask LINE for, at most 30d; e.g. 30d, 12h", default: "7d" },
  replace: { kind: "boolean", help: "replace a channel already registered (its tokens are kept)" },
  store: STORE_FLAG,
  json: JSON_FLAG,
} as const;

const iso = (ms: number): string => new Date(ms).toISOString();

function onePositional(positionals: string[], what: string, usage: string): string {
  if (positionals.length !== 1) throw new InvalidInputError(`${what} needs exactly one ${usage}`, { field: usage });
  return positionals[0]!;
}

/** Reads the channel secret from the named variable, or the first line of standard input. */
async function readSecret(io: CliIO, envName: string | undefined): Promise<string> {
  if (envName !== undefined) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(envName)) throw new InvalidInputError(`--secret-env takes a variable name, not a value`, { field: "--secret-env" });
    const v = io.env[envName];
    if (v === undefined || v === "") throw new InvalidInputError(`environment variable ${envName} (from --secret-env) is not set`, { field: "--secret-env" });
    return v.trim();
  }
  // On a terminal: a prompt with echo off. Piped: the first line, with nothing written to stderr.
  const line = io.readHiddenLine
    ? (await io.readHiddenLine("channel secret (not echoed): ")).trim()
    : ((await io.readStdin()).split(/\r?\n/)[0]?.trim() ?? "");
  if (line === "") throw new InvalidInputError("no channel secret given: pipe it on standard input or name a variable with --secret-env VAR", { field: "--secret-env" });
  return line;
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
  const clean = validatePolicy(policy);
  resolveTokenPolicy(clean);
  return clean;
}

const add: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, ADD_FLAGS);
  if (positionals.length > 0) throw new InvalidInputError(`channel add takes no positional arguments (the secret is never a flag value: use --secret-env VAR or standard input)`);
  const channelId = required(flags.id, "id");
  validateChannelId(channelId);
  const kid = required(flags.kid, "kid");
  const privateKey = await readPrivateKey(io, required(flags.key, "key"));
  const policy = policyFromFlags(flags);
  const channelSecret = await readSecret(io, flags["secret-env"]);
  const ctx = await openTokenContext({ store: flags.store, env: io.env, cwd: io.cwd });
  try {
    const ch = await ctx.registry.add({ channelId, kid, privateKey: privateKey as never, channelSecret, policy }, { replace: flags.replace === true });
    await ctx.store.appendAudit({ at: Date.now(), action: flags.replace ? "channel.replace" : "channel.add", actor: "cli", channelId, keyId: null, detail: `kid ${kid}` });
    if (flags.json) io.stdout(JSON.stringify({ channelId: ch.channelId, kid: ch.kid, policy: ch.policy, createdAt: ch.createdAt }) + "\n");
    else io.stdout(`added channel ${ch.channelId} (kid ${ch.kid})\n`);
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
    const out = rows.map((r) => ({ channelId: r.channelId, kid: r.kid, policy: r.policy, createdAt: r.createdAt, updatedAt: r.updatedAt }));
    if (flags.json) io.stdout(JSON.stringify(out) + "\n");
    else if (out.length === 0) io.stdout("no channels (add one with: kagiya channel add --id ID --kid KID --key FILE --secret-env VAR)\n");
    else {
      io.stdout(`${"CHANNEL".padEnd(20)} ${"KID".padEnd(38)} ADDED\n`);
      for (const r of out) io.stdout(`${r.channelId.padEnd(20)} ${r.kid.padEnd(38)} ${iso(r.createdAt)}\n`);
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
    const policy = resolveTokenPolicy(row.policy);
    const status = await ctx.manager.status(channelId);
    const out = { channelId, kid: row.kid, policy, createdAt: row.createdAt, updatedAt: row.updatedAt, budgetUsed: status.budgetUsed, budgetLimit: status.budgetLimit, tokens: status.tokens.length };
    if (flags.json) io.stdout(JSON.stringify(out) + "\n");
    else {
      io.stdout(
        [
          `channel   ${channelId}`,
          `kid       ${row.kid}`,
          `added     ${iso(row.createdAt)}`,
          `lifetime  ${policy.lifetimeSeconds} s, refresh at ${policy.refreshMin * 100}-${policy.refreshMax * 100} %, grace ${policy.revokeGraceSeconds} s`,
          `budget    ${status.budgetUsed} of ${status.budgetLimit} valid tokens used`,
          "",
        ].join("\n"),
      );
    }
  } finally {
    await ctx.close();
  }
  return 0;
};

const remove: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, {
    store: STORE_FLAG,
    json: JSON_FLAG,
    "keep-tokens": { kind: "boolean", help: "remove without revoking its tokens first (they stay valid at LINE until they expire)" },
  });
  const channelId = onePositional(positionals, "channel remove", "CHANNEL");
  validateChannelId(channelId);
  const ctx = await openTokenContext({ store: flags.store, env: io.env, cwd: io.cwd, mustExist: true, manager: { actor: "cli" } });
  try {
    if (!(await ctx.store.getChannel(channelId))) throw new ChannelNotFoundError(channelId);
    let revoked: string[] = [];
    if (!flags["keep-tokens"]) {
      // Revoke first: a token kagiya forgets stays valid at LINE and counts against the cap.
      const report = await ctx.manager.revoke(channelId, "all", { actor: "cli" });
      const failed = report.skipped.filter((s) => !s.reason.startsWith("orphan"));
      if (failed.length > 0) {
        throw new KagiyaError("ERR_TOKEN_REVOKE_FAILED", `could not revoke ${failed.length} token(s) of channel ${channelId} (${failed[0]!.reason}); nothing removed. Retry, or pass --keep-tokens to remove anyway`);
      }
      revoked = report.revoked;
    }
    await ctx.registry.remove(channelId);
    await ctx.store.appendAudit({ at: Date.now(), action: "channel.remove", actor: "cli", channelId, keyId: null, detail: `revoked ${revoked.length} token(s)` });
    if (flags.json) io.stdout(JSON.stringify({ channelId, removed: true, revoked }) + "\n");
    else io.stdout(`removed channel ${channelId}${revoked.length ? ` (revoked ${revoked.length} token(s))` : ""}\n`);
  } finally {
    await ctx.close();
  }
  return 0;
};

/** Subcommands of `kagiya channel`. */
export const commands: Record<string, Command> = { add, list, show, remove };

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
};
