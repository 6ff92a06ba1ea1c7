import { writeFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { InvalidInputError } from "../../core/errors.ts";
import { parseArgs } from "../args.ts";
import { JSON_FLAG, SEALED_STORE_ENV, STORE_FLAG, type CommandHelp } from "../help.ts";
import type { CliIO, Command } from "../io.ts";

const newMaster: Command = async (argv: string[], io: CliIO) => {
  const { flags, positionals } = parseArgs(argv, {
    base64: { kind: "boolean", help: "print base64 instead of 64 hex characters" },
    out: { kind: "string", value: "FILE", help: "write a new file (mode 0600) instead of printing", default: "standard output" },
  });
  if (positionals.length > 0) throw new InvalidInputError(`unexpected argument "${positionals[0]}" (see kagiya keys new-master --help)`);
  const { generateMasterKeyText } = await import("../../store/sealed.ts");
  const hex = generateMasterKeyText();
  const text = flags.base64 ? Buffer.from(hex, "hex").toString("base64") : hex;
  if (flags.out !== undefined) {
    const path = isAbsolute(flags.out) ? flags.out : resolve(io.cwd, flags.out);
    try {
      writeFileSync(path, text + "\n", { mode: 0o600, flag: "wx" });
    } catch (error) {
      if ((error as { code?: string }).code === "EEXIST") throw new InvalidInputError(`${path} already exists: refusing to overwrite a key file`, { field: "--out" });
      throw error;
    }
    io.stderr(`wrote a new master key to ${path} (mode 0600); set KAGIYA_MASTER_KEY_FILE=${path}\n`);
    return 0;
  }
  io.stdout(text + "\n");
  return 0;
};

const rotateMaster: Command = async (argv: string[], io: CliIO) => {
  const { flags, positionals } = parseArgs(argv, {
    store: STORE_FLAG,
    limit: { kind: "string", value: "N", help: "stop after N values (a batch); run again to continue", default: "all values" },
    json: JSON_FLAG,
  });
  if (positionals.length > 0) throw new InvalidInputError(`unexpected argument "${positionals[0]}" (see kagiya keys rotate-master --help)`);
  let limit: number | undefined;
  if (flags.limit !== undefined) {
    if (!/^[1-9][0-9]{0,8}$/.test(flags.limit)) throw new InvalidInputError("--limit must be a positive whole number", { field: "--limit" });
    limit = Number(flags.limit);
  }
  const { loadMasterKey, readMasterKey } = await import("../../store/sealed.ts");
  const { MasterKeyError } = await import("../../store/errors.ts");
  const { rotateMasterKey } = await import("../../store/rotate.ts");
  const { openStore } = await import("../../store/open.ts");
  const newKey = loadMasterKey(io.env, io.cwd);
  const oldKey = readMasterKey(io.env, { value: "KAGIYA_MASTER_KEY_OLD", file: "KAGIYA_MASTER_KEY_OLD_FILE" }, io.cwd);
  if (!oldKey) {
    throw new MasterKeyError(
      "ERR_MASTER_KEY_MISSING",
      "rotate-master needs the old key in KAGIYA_MASTER_KEY_OLD (or KAGIYA_MASTER_KEY_OLD_FILE) and the new one in KAGIYA_MASTER_KEY (create it with: kagiya keys new-master)",
    );
  }
  if (oldKey.version === newKey.version) throw new InvalidInputError("the old and the new master key are the same key: nothing to rotate");
  const store = await openStore(flags.store, io.env, { cwd: io.cwd });
  try {
    const report = await rotateMasterKey(store, newKey, [oldKey], limit !== undefined ? { limit } : {});
    if (flags.json) io.stdout(JSON.stringify(report) + "\n");
    else {
      io.stdout(`re-sealed ${report.resealed} value(s); ${report.skipped} already under key version ${report.version}\n`);
      io.stdout(report.complete ? "rotation complete: the old master key is no longer needed\n" : "rotation not complete: run the same command again to continue\n");
    }
    return 0;
  } finally {
    await store.close();
  }
};

/** `kagiya keys new-master` and `kagiya keys rotate-master` (spread into the keys group). */
export const masterCommands: Record<string, Command> = {
  "new-master": newMaster,
  "rotate-master": rotateMaster,
};

/** Help for the master-key subcommands of `kagiya keys`. */
export const masterHelp: Record<string, CommandHelp> = {
  "new-master": {
    summary: "print a fresh master key (32 random bytes) for sealing secrets at rest",
    description: "Use it as KAGIYA_MASTER_KEY, or write it with --out FILE and name the file with KAGIYA_MASTER_KEY_FILE.",
    example: "kagiya keys new-master --out master.key",
  },
  "rotate-master": {
    summary: "re-seal every sealed value in the store with a new master key",
    description: [
      "New key: KAGIYA_MASTER_KEY or KAGIYA_MASTER_KEY_FILE; old key: KAGIYA_MASTER_KEY_OLD or KAGIYA_MASTER_KEY_OLD_FILE.",
      "Resumable: values already under the new key are skipped, so an interrupted run is simply run again.",
      "While it runs, processes given both keys (new and old) keep working.",
    ].join("\n"),
    env: [...SEALED_STORE_ENV, "KAGIYA_MASTER_KEY_OLD", "KAGIYA_MASTER_KEY_OLD_FILE"],
    example: "KAGIYA_MASTER_KEY_OLD_FILE=old.key KAGIYA_MASTER_KEY_FILE=new.key kagiya keys rotate-master --limit 1000",
  },
};
