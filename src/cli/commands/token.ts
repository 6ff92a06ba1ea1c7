// `kagiya token get|issue|list|revoke|reconcile CHANNEL`: the TokenManager from the command line, for
// every kind of credential (a LINE channel by its digits, a LINE WORKS app by its ID).
// Only `get` ever prints a token, and only the token (for scripts: TOKEN=$(kagiya token get ID)).
import { InvalidInputError } from "../../core/errors.ts";
import { ChannelNotFoundError } from "../../store/errors.ts";
import { validateCredentialId } from "../../store/credential-input.ts";
import { openTokenContext, type TokenContext } from "../../tokens/context.ts";
import { parseArgs, type FlagSpec, type Flags } from "../args.ts";
import { JSON_FLAG, SEALED_STORE_ENV, STORE_FLAG, type CommandHelp } from "../help.ts";
import type { CliIO, Command } from "../io.ts";
import { TEST_CLOCK_ENV, testClockFromEnv } from "../test-clock.ts";

const iso = (ms: number): string => new Date(ms).toISOString();
const COMMON = { store: STORE_FLAG, json: JSON_FLAG } as const;

/** Parses flags, checks the CHANNEL argument, opens the context, checks the channel exists, runs. */
async function withChannel<S extends FlagSpec>(
  argv: string[], io: CliIO, name: string, spec: S, extra: "none" | "optional-key",
  run: (ctx: TokenContext, channelId: string, flags: Flags<S & typeof COMMON>, rest: string[]) => Promise<number>,
): Promise<number> {
  const { flags, positionals } = parseArgs(argv, { ...COMMON, ...spec } as S & typeof COMMON);
  const max = extra === "none" ? 1 : 2;
  if (positionals.length < 1 || positionals.length > max) {
    throw new InvalidInputError(`token ${name} needs ${extra === "none" ? "one argument: CHANNEL (a channel or credential ID)" : "CHANNEL (a channel or credential ID) and a KEY_ID (or --all)"}`, { field: "CHANNEL" });
  }
  const channelId = positionals[0]!;
  validateCredentialId(channelId);
  // TEST ONLY (the soak harness): follow the emulator's clock; refused without KAGIYA_TEST_MODE=1.
  const clock = await testClockFromEnv(io.env);
  const ctx = await openTokenContext({ store: flags.store as string | undefined, env: io.env, cwd: io.cwd, mustExist: true, manager: { actor: "cli", ...(clock ? { now: clock.now } : {}) } }).catch((error: unknown) => {
    clock?.close();
    throw error;
  });
  try {
    if (!(await ctx.store.getChannel(channelId))) {
      if (/^[0-9]+$/.test(channelId)) throw new ChannelNotFoundError(channelId);
      // Not digits, so not a LINE channel; and no credential of another kind goes by that ID either.
      throw new InvalidInputError(`channel ID ${JSON.stringify(channelId)} is not valid: LINE channel IDs are numbers (digits only, e.g. 1234567890), and no other credential (a LINE WORKS app, …) is registered as ${channelId} (see kagiya works list)`, { field: "CHANNEL", code: "ERR_CHANNEL_NOT_FOUND" });
    }
    return await run(ctx, channelId, flags, positionals.slice(1));
  } finally {
    clock?.close();
    await ctx.close();
  }
}

const get: Command = (argv, io) =>
  withChannel(argv, io, "get", {}, "none", async (ctx, channelId, flags) => {
    const t = await ctx.manager.get(channelId);
    if (flags.json) io.stdout(JSON.stringify({ channelId, keyId: t.keyId, accessToken: t.accessToken, tokenType: t.tokenType, issuedAt: t.issuedAt, expiresAt: t.expiresAt }) + "\n");
    else io.stdout(t.accessToken + "\n");
    return 0;
  });

const issue: Command = (argv, io) =>
  withChannel(argv, io, "issue", {}, "none", async (ctx, channelId, flags) => {
    const t = await ctx.manager.issue(channelId, { actor: "cli" });
    if (flags.json) io.stdout(JSON.stringify({ channelId, keyId: t.keyId, issuedAt: t.issuedAt, expiresAt: t.expiresAt }) + "\n");
    else io.stdout(`issued token ${t.keyId} for channel ${channelId}, expires ${iso(t.expiresAt)} (print it with: kagiya token get ${channelId})\n`);
    return 0;
  });

const list: Command = (argv, io) =>
  withChannel(argv, io, "list", {}, "none", async (ctx, channelId, flags) => {
    const s = await ctx.manager.status(channelId);
    if (flags.json) {
      io.stdout(JSON.stringify({ channelId, tokens: s.tokens, budgetUsed: s.budgetUsed, budgetLimit: s.budgetLimit, grant: s.grant ?? null }) + "\n");
      return 0;
    }
    if (s.tokens.length === 0) io.stdout(`no tokens for channel ${channelId} (kagiya token get ${channelId} issues one)\n`);
    else {
      const w = Math.max(6, ...s.tokens.map((t) => t.keyId.length));
      io.stdout(`${"KEY ID".padEnd(w)}  ${"STATE".padEnd(10)}  ${"ISSUED".padEnd(24)}  EXPIRES\n`);
      for (const t of s.tokens) io.stdout(`${t.keyId.padEnd(w)}  ${t.state.padEnd(10)}  ${iso(t.issuedAt).padEnd(24)}  ${iso(t.expiresAt)}\n`);
    }
    io.stdout(s.budgetLimit === null ? `live: ${s.budgetUsed} token(s) (${s.kind ?? "this kind"} has no cap)\n` : `budget: ${s.budgetUsed} of ${s.budgetLimit} valid tokens used\n`);
    // The grant (refresh token) by version and status, never its text; reauth_required: log in again.
    if (s.grant) io.stdout(`grant: refresh token v${s.grant.version} ${s.grant.status}${s.grant.pendingWrite ? " (write pending)" : ""}\n`);
    return 0;
  });

const revoke: Command = (argv, io) =>
  withChannel(argv, io, "revoke", { all: { kind: "boolean", help: "revoke every token kagiya holds for the channel" } }, "optional-key", async (ctx, channelId, flags, rest) => {
    const keyId = rest[0];
    if ((keyId === undefined) === (flags.all !== true)) throw new InvalidInputError("token revoke needs either a KEY_ID or --all (not both)", { field: "KEY_ID" });
    const r = await ctx.manager.revoke(channelId, keyId ?? "all", { actor: "cli" });
    if (flags.json) io.stdout(JSON.stringify(r) + "\n");
    else {
      for (const k of r.revoked) io.stdout(`revoked ${k}\n`);
      for (const s of r.skipped) io.stdout(`not revoked ${s.keyId}: ${s.reason}\n`);
      if (r.revoked.length === 0 && r.skipped.length === 0) io.stdout(`nothing to revoke for channel ${channelId}\n`);
    }
    return r.skipped.some((s) => !s.reason.startsWith("orphan")) ? 1 : 0;
  });

const reconcile: Command = (argv, io) =>
  withChannel(argv, io, "reconcile", {}, "none", async (ctx, channelId, flags) => {
    const r = await ctx.manager.reconcile(channelId, { actor: "cli" });
    if (flags.json) io.stdout(JSON.stringify(r) + "\n");
    else {
      io.stdout(`LINE lists ${r.validKeyIds.length} valid token(s) for channel ${channelId}\n`);
      for (const k of r.markedRevoked) io.stdout(`revoked (LINE no longer lists it): ${k}\n`);
      for (const k of r.orphans) io.stdout(`orphan (unknown to kagiya, counts until it expires): ${k}\n`);
      io.stdout(`budget left: ${r.budgetLeft} of 30\n`);
    }
    return 0;
  });

/** Subcommands of `kagiya token`. */
export const commands: Record<string, Command> = { get, issue, list, revoke, reconcile };

const TOKEN_ENV = [...SEALED_STORE_ENV, "KAGIYA_LINE_API_BASE", "KAGIYA_WORKS_AUTH_BASE", ...TEST_CLOCK_ENV];

/** Help for `kagiya token …`. */
export const help: Record<string, CommandHelp> = {
  get: {
    summary: "print a valid access token for the channel or LINE WORKS app (issues one when none is cached or it is due)",
    args: "CHANNEL",
    description: "Prints only the token, for scripts: TOKEN=$(kagiya token get 1234567890).",
    env: TOKEN_ENV,
    example: "kagiya token get 1234567890",
  },
  issue: { summary: "issue a new token now, whatever is cached (counts against LINE's 30)", args: "CHANNEL", env: TOKEN_ENV, example: "kagiya token issue 1234567890 --json" },
  list: { summary: "list the channel's tokens (key IDs, states, expiry) and the budget used", args: "CHANNEL", env: TOKEN_ENV, example: "kagiya token list 1234567890" },
  revoke: {
    summary: "revoke one token by key ID, or all of them, at LINE and in the store",
    args: "CHANNEL [KEY_ID]",
    env: TOKEN_ENV,
    failure: "a token could not be revoked, or LINE or the store is unreachable",
    example: "kagiya token revoke 1234567890 --all",
  },
  reconcile: {
    summary: "compare the store with LINE's list of valid key IDs: mark revoked ones, count orphans",
    args: "CHANNEL",
    env: TOKEN_ENV,
    example: "kagiya token reconcile 1234567890",
  },
};
