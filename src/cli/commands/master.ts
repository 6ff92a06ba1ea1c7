import { writeFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { InvalidInputError } from "../../core/errors.ts";
import { parseArgs } from "../args.ts";
import type { CliIO, Command } from "../io.ts";

const NEW_MASTER_HELP = `usage: kagiya keys new-master [--base64] [--out FILE]

Prints a fresh master key (32 random bytes) as 64 hex characters (or base64 with --base64).
With --out FILE, writes it to a new file with mode 0600 instead and prints nothing on stdout.
Use it as KAGIYA_MASTER_KEY, or name the file with KAGIYA_MASTER_KEY_FILE.
`;

const ROTATE_HELP = `usage: kagiya keys rotate-master [--store SPEC] [--limit N] [--json]

Re-seals every sealed value in the store with the new master key.
  new key: KAGIYA_MASTER_KEY or KAGIYA_MASTER_KEY_FILE (the key processes will use from now on)
  old key: KAGIYA_MASTER_KEY_OLD or KAGIYA_MASTER_KEY_OLD_FILE
Resumable: values already under the new key are skipped, so an interrupted run is simply run
again; --limit N stops after N values (a batch). While it runs, processes given both keys
(KAGIYA_MASTER_KEY new, KAGIYA_MASTER_KEY_OLD old) keep working.
  --store SPEC   sqlite:PATH | redis://… | postgres://… (default: DATABASE_URL, REDIS_URL, KAGIYA_DB or ./kagiya.db)
`;

const newMaster: Command = async (argv: string[], io: CliIO) => {
  const { flags, positionals } = parseArgs(argv, { base64: "boolean", out: "string", help: "boolean" });
  if (flags.help) {
    io.stdout(NEW_MASTER_HELP);
    return 0;
  }
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
  const { flags, positionals } = parseArgs(argv, { store: "string", limit: "string", json: "boolean", help: "boolean" });
  if (flags.help) {
    io.stdout(ROTATE_HELP);
    return 0;
  }
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
