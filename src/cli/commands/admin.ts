import type { Command } from "../io.ts";
import { parseArgs } from "../args.ts";
import { JSON_FLAG, STORE_ENV, STORE_FLAG, type CommandHelp } from "../help.ts";
import { InvalidInputError } from "../../core/errors.ts";
import { openStore } from "../../store/open.ts";
import { createAdminToken } from "../../server/admin.ts";

/**
 * `kagiya admin token [--store SPEC]`: creates a dashboard admin token, stores only its SHA-256
 * (replacing the previous one) and prints it once.
 */
const token: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, { store: STORE_FLAG, json: JSON_FLAG });
  if (positionals.length > 0) throw new InvalidInputError(`unexpected argument "${positionals[0]!.slice(0, 40)}"`);
  const store = await openStore(flags.store, io.env, { cwd: io.cwd, mustExist: true });
  try {
    const text = await createAdminToken(store);
    if (flags.json) {
      io.stdout(JSON.stringify({ adminToken: text }) + "\n");
      return 0;
    }
    io.stdout(`${text}\n`);
    io.stderr("new dashboard admin token (shown only this once; the previous one no longer works): log in at /ui\n");
    return 0;
  } finally {
    await store.close();
  }
};

/** `kagiya admin token`. */
export const commands: Record<string, Command> = { token };

/** Help for `kagiya admin token`. */
export const help: Record<string, CommandHelp> = {
  token: {
    summary: "create the dashboard admin token and print it once (the previous one stops working)",
    description: "Only its SHA-256 is stored. Log in at /ui/ of kagiya serve with it, or set KAGIYA_ADMIN_TOKEN instead.",
    env: STORE_ENV,
    example: "kagiya admin token --store sqlite:./kagiya.db",
  },
};
