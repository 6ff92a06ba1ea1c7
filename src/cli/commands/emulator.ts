import { InvalidInputError } from "../../core/errors.ts";
import { startEmulator } from "../../emulator/index.ts";
import { parseArgs, parsePort } from "../args.ts";
import type { Command, CliIO } from "../io.ts";

const HELP = `usage: kagiya emulator [--port 8787] [--host 127.0.0.1] [--state FILE]

Runs a local LINE platform (channel access tokens, reply/push, webhook delivery) and LINE WORKS'
auth server and bot API (under /oauth2/v2.0/ and /v1.0/: point KAGIYA_WORKS_AUTH_BASE and
KAGIYA_WORKS_API_BASE at the same URL) with a control API under /__emulator/ (LINE WORKS: under
/__emulator/works/). Prints its base URL, serves until SIGINT/SIGTERM.
  --port   TCP port (default 8787, env KAGIYA_EMULATOR_PORT; 0 picks a free one)
  --host   interface (default 127.0.0.1, env KAGIYA_EMULATOR_HOST)
  --state  JSON file keeping LINE channels, keys and tokens across restarts (env KAGIYA_EMULATOR_STATE;
           LINE WORKS apps and tokens live in memory only)
`;

/** `kagiya emulator`: serves until a signal, then closes cleanly and exits 0. */
const run: Command = async (argv: string[], io: CliIO) => {
  const { flags, positionals } = parseArgs(argv, { port: "string", host: "string", state: "string", help: "boolean" });
  if (flags.help) {
    io.stdout(HELP);
    return 0;
  }
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
