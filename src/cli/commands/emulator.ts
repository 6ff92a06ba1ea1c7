import { InvalidInputError } from "../../core/errors.ts";
import { startEmulator } from "../../emulator/index.ts";
import { parseArgs, parsePort } from "../args.ts";
import type { CommandHelp } from "../help.ts";
import type { Command, CliIO } from "../io.ts";

/** `kagiya emulator`: serves until a signal, then closes cleanly and exits 0. */
const run: Command = async (argv: string[], io: CliIO) => {
  const { flags, positionals } = parseArgs(argv, {
    port: { kind: "string", value: "PORT", help: "TCP port (0 picks a free one)", default: "8787", env: "KAGIYA_EMULATOR_PORT" },
    host: { kind: "string", value: "HOST", help: "interface to listen on", default: "127.0.0.1", env: "KAGIYA_EMULATOR_HOST" },
    state: { kind: "string", value: "FILE", help: "JSON file keeping LINE channels, keys and tokens across restarts (LINE WORKS apps live in memory only)", default: "none: state is lost on exit", env: "KAGIYA_EMULATOR_STATE" },
  });
  if (positionals.length > 0) throw new InvalidInputError(`unexpected argument "${positionals[0]}" (kagiya emulator takes only options)`);
  const port = parsePort(flags.port ?? io.env["KAGIYA_EMULATOR_PORT"] ?? "8787");
  const host = flags.host ?? io.env["KAGIYA_EMULATOR_HOST"] ?? "127.0.0.1";
  const state = flags.state ?? io.env["KAGIYA_EMULATOR_STATE"];
  const emu = await startEmulator({ port, host, ...(state ? { stateFile: state } : {}) });
  io.stdout(`${emu.url}\n`);
  io.stderr(`kagiya emulator: serving a local LINE platform at ${emu.url} (control API under ${emu.url}/__emulator/); Ctrl-C stops it\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      void emu.close().then(resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  return 0;
};

/** The emulator group has one default command. */
export const commands: Record<string, Command> = { "": run };

/** Help for `kagiya emulator`. */
export const help: Record<string, CommandHelp> = {
  "": {
    summary: "run a local LINE platform: channel access tokens, reply/push, webhook delivery, a message log",
    description: "Prints its base URL on stdout; the control API is under /__emulator/ (see docs/emulator.md).\nServes until SIGINT/SIGTERM, then exits 0.",
    example: "kagiya emulator --port 8787 --state emulator-state.json",
  },
};
