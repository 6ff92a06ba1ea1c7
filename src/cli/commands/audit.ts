import type { Command } from "../io.ts";
import { parseArgs } from "../args.ts";
import { JSON_FLAG, STORE_ENV, STORE_FLAG, type CommandHelp } from "../help.ts";
import { InvalidInputError } from "../../core/errors.ts";
import { openStore } from "../../store/open.ts";
import { formatTable, formatTime } from "../../server/format.ts";

/** `kagiya audit [--channel ID] [--limit N] [--json] [--store SPEC]`: newest first. */
const show: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, {
    channel: { kind: "string", value: "ID", help: "only records about this channel" },
    limit: { kind: "string", value: "N", help: "at most N records, 1 to 100000", default: "100 records" },
    json: JSON_FLAG,
    store: STORE_FLAG,
  });
  if (positionals.length > 0) throw new InvalidInputError(`unexpected argument "${positionals[0]!.slice(0, 40)}" (filter with --channel ID)`);
  if (flags.channel !== undefined && !/^[0-9]{1,20}$/.test(flags.channel)) {
    throw new InvalidInputError(`--channel ${JSON.stringify(flags.channel.slice(0, 40))} is not a channel ID (decimal digits)`, { field: "--channel" });
  }
  const limit = flags.limit === undefined ? 100 : /^[0-9]{1,6}$/.test(flags.limit) ? Number(flags.limit) : NaN;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new InvalidInputError("--limit must be an integer from 1 to 100000", { field: "--limit" });
  const store = await openStore(flags.store, io.env, { cwd: io.cwd, mustExist: true });
  try {
    const rows = await store.listAudit(flags.channel !== undefined ? { channelId: flags.channel, limit } : { limit });
    if (flags.json) {
      io.stdout(JSON.stringify(rows.map((r) => ({ at: new Date(r.at).toISOString(), action: r.action, actor: r.actor, channelId: r.channelId, keyId: r.keyId, detail: r.detail }))) + "\n");
      return 0;
    }
    if (rows.length === 0) {
      io.stdout(flags.channel !== undefined ? `no audit records for channel ${flags.channel}\n` : "no audit records\n");
      return 0;
    }
    io.stdout(formatTable(["TIME", "ACTION", "ACTOR", "CHANNEL", "KEY ID", "DETAIL"], rows.map((r) => [
      formatTime(r.at), r.action, r.actor, r.channelId ?? "-", r.keyId ?? "-", r.detail ?? "",
    ])));
    return 0;
  } finally {
    await store.close();
  }
};

/** `kagiya audit` (a single default command). */
export const commands: Record<string, Command> = { "": show };

/** Help for `kagiya audit`. */
export const help: Record<string, CommandHelp> = {
  "": {
    summary: "show the audit log, newest first: issues, refreshes, revocations, channel and API key changes",
    env: STORE_ENV,
    example: "kagiya audit --channel 1234567890 --limit 20",
  },
};
