import type { Command, CliIO } from "../io.ts";
import { parseArgs } from "../args.ts";
import { JSON_FLAG, STORE_ENV, STORE_FLAG, type CommandHelp } from "../help.ts";
import { InvalidInputError } from "../../core/errors.ts";
import { openStore } from "../../store/open.ts";
import type { Store } from "../../store/types.ts";
import { createApiKey, revokeApiKey } from "../../server/apikeys.ts";
import { formatTable, formatTime } from "../../server/format.ts";

async function withStore<T>(spec: string | undefined, io: CliIO, f: (store: Store) => Promise<T>): Promise<T> {
  // Never create an empty SQLite store here: a key in a store no server reads is a silent mistake.
  const store = await openStore(spec, io.env, { cwd: io.cwd, mustExist: true });
  try {
    return await f(store);
  } finally {
    await store.close();
  }
}

/** `kagiya apikey create --channel ID... [--name NAME] [--json] [--store SPEC]`: prints the key once. */
const create: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, {
    channel: { kind: "strings", value: "ID", help: "channel whose tokens the key may read (repeat, or comma-separate, for several)" },
    credential: { kind: "strings", value: "ID", help: "credential of any kind (a LINE WORKS app, …) whose tokens the key may read (repeat, or comma-separate)" },
    name: { kind: "string", value: "NAME", help: "a label for lists and the audit log", default: "the key id" },
    json: JSON_FLAG,
    store: STORE_FLAG,
  });
  if (positionals.length > 0) throw new InvalidInputError(`unexpected argument "${positionals[0]!.slice(0, 40)}" (give channels with --channel ID)`);
  const ids = (values: string[] | undefined): string[] => (values ?? []).flatMap((c) => c.split(",")).map((c) => c.trim()).filter((c) => c !== "");
  const channels = ids(flags.channel);
  const credentials = ids(flags.credential);
  if (channels.length + credentials.length === 0) {
    throw new InvalidInputError("missing required option --channel (the channel IDs the key may read tokens of; repeat it for several) or --credential ID", { field: "--channel" });
  }
  return withStore(flags.store, io, async (store) => {
    const { id, key, row } = await createApiKey(store, { channels, credentials, ...(flags.name !== undefined ? { name: flags.name } : {}), actor: "cli" });
    if (flags.json) io.stdout(JSON.stringify({ id, key }) + "\n");
    else {
      io.stdout(`${key}\n`);
      io.stderr(`created API key ${id} (${row.name}) for channel${row.channels.length > 1 ? "s" : ""} ${row.channels.join(", ")}; the key is shown only this once: store it now\n`);
    }
    return 0;
  });
};

/** `kagiya apikey list [--json] [--store SPEC]`: ids, names, scopes and states, never keys or hashes. */
const list: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, { json: JSON_FLAG, store: STORE_FLAG });
  if (positionals.length > 0) throw new InvalidInputError(`unexpected argument "${positionals[0]!.slice(0, 40)}"`);
  return withStore(flags.store, io, async (store) => {
    const keys = (await store.listApiKeys()).map((k) => ({ id: k.id, name: k.name, channels: k.channels, createdAt: k.createdAt, lastUsedAt: k.lastUsedAt, revokedAt: k.revokedAt }));
    if (flags.json) {
      io.stdout(JSON.stringify(keys) + "\n");
      return 0;
    }
    if (keys.length === 0) {
      io.stdout("no API keys (create one with kagiya apikey create --channel ID)\n");
      return 0;
    }
    io.stdout(formatTable(["ID", "NAME", "CHANNELS", "CREATED", "LAST USED", "STATE"], keys.map((k) => [
      k.id, k.name, k.channels.join(","), formatTime(k.createdAt), formatTime(k.lastUsedAt), k.revokedAt === null ? "active" : `revoked ${formatTime(k.revokedAt)}`,
    ])));
    return 0;
  });
};

/** `kagiya apikey revoke ID [--store SPEC]`: the key stops working on every instance within seconds. */
const revoke: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, { store: STORE_FLAG });
  if (positionals.length !== 1) throw new InvalidInputError("usage: kagiya apikey revoke ID (the id from kagiya apikey list)");
  const id = positionals[0]!;
  if (!/^ak_[0-9a-f]{16}$/.test(id)) throw new InvalidInputError(`"${id.slice(0, 40)}" is not an API key id (ids look like ak_0123456789abcdef; see kagiya apikey list)`);
  return withStore(flags.store, io, async (store) => {
    if (!(await revokeApiKey(store, id, { actor: "cli" }))) {
      throw new InvalidInputError(`no API key ${id} (see kagiya apikey list)`, { code: "ERR_APIKEY_NOT_FOUND" });
    }
    io.stdout(`revoked API key ${id}; every server stops accepting it within a few seconds\n`);
    return 0;
  });
};

/** `kagiya apikey create|list|revoke`. */
export const commands: Record<string, Command> = { create, list, revoke };

/** Help for `kagiya apikey …`. */
export const help: Record<string, CommandHelp> = {
  create: {
    summary: "create an API key for the token API, scoped to channels (--channel) or other credentials such as LINE WORKS apps (--credential); prints it once",
    env: STORE_ENV,
    example: "kagiya apikey create --channel 1234567890 --name billing",
  },
  list: { summary: "list API keys: ids, names, channels, last use and state (never the keys)", env: STORE_ENV, example: "kagiya apikey list --json" },
  revoke: {
    summary: "revoke an API key; every server refuses it within seconds",
    args: "ID",
    env: STORE_ENV,
    example: "kagiya apikey revoke ak_0123456789abcdef",
  },
};
