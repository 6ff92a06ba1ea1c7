#!/usr/bin/env node
import { InvalidInputError } from "../core/errors.ts";
import { preferRsaBackend } from "../core/keys/backend.ts";
import { nodeRsa } from "../node/rsa.ts";
import { describeError, exitCodeFor, type CliIO, type Command } from "./io.ts";

/**
 * Command table: each group lives in its own module under ./commands and is loaded only when
 * used, so `kagiya jwt create` never pays for the server's or the stores' imports.
 */
const groups: Record<string, { summary: string; load: () => Promise<{ commands: Record<string, Command> }> }> = {
  keys: { summary: "generate, lint and manage assertion signing keys and the master key", load: () => import("./commands/keys.ts") },
  jwt: { summary: "create, sign and inspect JWT client assertions", load: () => import("./commands/jwt.ts") },
  emulator: { summary: "run a local LINE platform for development and tests", load: () => import("./commands/emulator.ts") },
  channel: { summary: "register LINE channels (id, kid, key, secret)", load: () => import("./commands/channel.ts") },
  token: { summary: "get, issue, list, revoke and reconcile channel access tokens", load: () => import("./commands/token.ts") },
  serve: { summary: "run the token broker, webhook intake and dashboard", load: () => import("./commands/serve.ts") },
  apikey: { summary: "create, list and revoke API keys for the token API", load: () => import("./commands/apikey.ts") },
  audit: { summary: "show the audit log", load: () => import("./commands/audit.ts") },
  demo: { summary: "run the whole main job offline: emulator, channel, serve, token API, webhook reply", load: () => import("./commands/demo.ts") },
  admin: { summary: "manage the dashboard admin token", load: () => import("./commands/admin.ts") },
};

function usage(): string {
  const lines = ["usage: kagiya <command> [subcommand] [options]", "", "commands:"];
  for (const [name, g] of Object.entries(groups)) lines.push(`  ${name.padEnd(10)} ${g.summary}`);
  return lines.join("\n") + "\n";
}

/** Runs the CLI with the given argv (without node and script) and returns the exit code. */
export async function main(argv: string[], io: CliIO): Promise<number> {
  // The CLI is a Node program: sign and verify with node:crypto (see src/node/rsa.ts). Chosen
  // here, when the CLI runs, never as a side effect of importing a library module.
  preferRsaBackend(nodeRsa);
  const [groupName, ...rest] = argv;
  if (groupName === undefined) {
    io.stderr("kagiya: missing command (run kagiya --help for the list)\n");
    return 2;
  }
  if (groupName === "--help" || groupName === "-h" || groupName === "help") {
    io.stdout(usage());
    return 0;
  }
  const group = groups[groupName];
  if (!group) {
    io.stderr(`kagiya: unknown command "${groupName}" (run kagiya --help)\n`);
    return 2;
  }
  try {
    const { commands } = await group.load();
    // A group with a single default command (serve, emulator, audit) registers it under "".
    let command = commands[""];
    let args = rest;
    const sub = rest[0];
    if (sub !== undefined && !sub.startsWith("-") && commands[sub]) {
      command = commands[sub];
      args = rest.slice(1);
    } else if (!command) {
      const names = Object.keys(commands).filter((n) => n !== "").join(", ");
      io.stderr(sub === undefined || sub.startsWith("-")
        ? `kagiya: ${groupName} needs a subcommand: ${names}\n`
        : `kagiya: unknown subcommand "${groupName} ${sub}" (one of: ${names})\n`);
      return 2;
    }
    return await command!(args, io);
  } catch (error) {
    io.stderr(describeError(error) + "\n");
    if (process.env["KAGIYA_DEBUG"] === "1" && error instanceof Error) io.stderr(`${error.stack ?? ""}\n`);
    return exitCodeFor(error);
  }
}

/** The process-level IO: real stdout/stderr/stdin and the environment. */
export function processIO(): CliIO {
  return {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    },
    ...(process.stdin.isTTY ? { readHiddenLine } : {}),
    env: process.env,
    cwd: process.cwd(),
  };
}

/** Reads one line from the terminal with echo off (raw mode), for secrets typed by hand. */
function readHiddenLine(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.setEncoding("utf8");
    let line = "";
    const done = (error?: Error): void => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
      if (error) reject(error);
      else resolve(line);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n" || ch === "\u0004") return done();
        if (ch === "\u0003") return done(new InvalidInputError("cancelled"));
        if (ch === "\u007f" || ch === "\b") line = line.slice(0, -1);
        else line += ch;
      }
    };
    stdin.on("data", onData);
    stdin.resume();
  });
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2), processIO());
  // Long-running commands (serve, emulator) resolve only when they are done serving.
  process.exitCode = code;
}
