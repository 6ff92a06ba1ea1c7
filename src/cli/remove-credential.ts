// Removing a credential from the command line (`channel remove`, `works remove`): its grant (a
// refresh token) and tokens are revoked first, since a token kagiya forgets stays valid at the
// provider (and, at LINE, counts against the cap); a failed revocation removes nothing.
import { KagiyaError } from "../core/errors.ts";
import { openTokenContext, type TokenContext } from "../tokens/context.ts";
import { parseArgs, type FlagSpec, type Flags } from "./args.ts";
import { JSON_FLAG, STORE_FLAG } from "./help.ts";
import type { CliIO, Command } from "./io.ts";

/** The flags every `remove` takes. */
const REMOVE_FLAGS = { store: STORE_FLAG, json: JSON_FLAG } as const;

/**
 * A `… remove` command (`channel`, `works`, `oauth`): parses `--store`, `--json` and `extra`, takes
 * its one ID (`idOf`, which checks it), opens the store (which must exist) and runs `remove` in it,
 * closing the store after.
 */
export function removeCommand<S extends FlagSpec>(extra: S, idOf: (positionals: string[]) => string, remove: (ctx: TokenContext, id: string, flags: Flags<typeof REMOVE_FLAGS & S>, io: CliIO) => Promise<void>): Command {
  return async (argv, io) => {
    const { flags, positionals } = parseArgs(argv, { ...REMOVE_FLAGS, ...extra });
    const id = idOf(positionals);
    // `extra` cannot change what --store is.
    const { store } = flags as Flags<typeof REMOVE_FLAGS>;
    const ctx = await openTokenContext({ store, env: io.env, cwd: io.cwd, mustExist: true, manager: { actor: "cli" } });
    try {
      await remove(ctx, id, flags, io);
    } finally {
      await ctx.close();
    }
    return 0;
  };
}

/**
 * Revokes the grant of `id` (`revokeGrant`, resolving to whether there was one) and then every
 * token (unless `keepTokens`), removes the credential and audits `action`. Returns the revoked key
 * IDs; throws `ERR_TOKEN_REVOKE_FAILED` (exit 1) when the grant or a token could not be revoked.
 */
export async function revokeAndRemove(ctx: TokenContext, id: string, options: { keepTokens: boolean; label: string; action: string; revokeGrant?: () => Promise<boolean> }): Promise<string[]> {
  let revoked: string[] = [];
  let grantRevoked = false;
  if (!options.keepTokens) {
    // The grant first: once it is revoked no new token can be had from it.
    if (options.revokeGrant !== undefined) {
      try {
        grantRevoked = await options.revokeGrant();
      } catch (error) {
        const why = error instanceof KagiyaError ? error.message : "the provider could not be reached";
        throw new KagiyaError("ERR_TOKEN_REVOKE_FAILED", `could not revoke the refresh token of ${options.label} (${why}); nothing removed. Retry, or pass --keep-tokens to remove anyway`);
      }
    }
    const report = await ctx.manager.revoke(id, "all", { actor: "cli" });
    const failed = report.skipped.filter((s) => s.cause === "failed");
    if (failed.length > 0) {
      throw new KagiyaError("ERR_TOKEN_REVOKE_FAILED", `could not revoke ${failed.length} token(s) of ${options.label} (${failed[0]!.reason}); nothing removed. Retry, or pass --keep-tokens to remove anyway`);
    }
    revoked = report.revoked;
  }
  await ctx.registry.remove(id);
  await ctx.store.appendAudit({ at: Date.now(), action: options.action, actor: "cli", channelId: id, keyId: null, detail: `revoked ${revoked.length} token(s)${grantRevoked ? " and the refresh token" : ""}` });
  return revoked;
}
