#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { InvalidInputError } from "../core/errors.ts";
import { preferRsaBackend } from "../core/keys/backend.ts";
import { nodeRsa } from "../node/rsa.ts";
import { readStreamText } from "../node/read-text.ts";
import { HelpRequested } from "./args.ts";
import { renderCommandHelp, renderGroupHelp, type CommandGroupModule } from "./help.ts";
import { describeError, exitCodeFor, type CliIO, type Command } from "./io.ts";
import { didYouMean } from "./suggest.ts";

/**
 * Command table: each group lives in its own module under ./commands and is loaded only when
 * used, so `kagiya jwt create` never pays for the server's or the stores' imports.
 */
export const groups: Record<string, { summary: string; load: () => Promise<CommandGroupModule<Command>> }> = {
  keys: { summary: "generate, lint and manage assertion signing keys and the master key", load: () => import("./commands/keys.ts") },
  jwt: { summary: "create, sign and inspect JWT client assertions", load: () => import("./commands/jwt.ts") },
  emulator: { summary: "run a local LINE platform for development and tests", load: () => import("./commands/emulator.ts") },
  channel: { summary: "register LINE channels (id, kid, key, secret)", load: () => import("./commands/channel.ts") },
  works: { summary: "register LINE WORKS apps (client, service account, key, scopes)", load: () => import("./commands/works.ts") },
  oauth: { summary: "OAuth 2.0 grants: register a provider, log in once, get tokens, call APIs, revoke (LINE Login, LINE WORKS presets)", load: () => import("./commands/oauth.ts") },
  token: { summary: "get, issue, list, revoke and reconcile access tokens (LINE channels, LINE WORKS apps)", load: () => import("./commands/token.ts") },
  serve: { summary: "run the token broker, webhook intake and dashboard", load: () => import("./commands/serve.ts") },
  apikey: { summary: "create, list and revoke API keys for the token API", load: () => import("./commands/apikey.ts") },
  audit: { summary: "show the audit log", load: () => import("./commands/audit.ts") },
  demo: { summary: "run the whole main job offline: emulator, channel, serve, token API, webhook reply", load: () => import("./commands/demo.ts") },
  admin: { summary: "manage the dashboard admin token", load: () => import("./commands/admin.ts") },
};

function usage(): string {
  const lines = ["usage: kagiya <command> [subcommand] [options]", "", "commands:"];
  for (const [name, g] of Object.entries(groups)) lines.push(`  ${name.padEnd(10)} ${g.summary}`);
  lines.push("", "kagiya COMMAND --help (or -h, or kagiya help COMMAND) shows a command's options; kagiya --version its version.");
  lines.push("Exit codes: 0 success, 1 a failed check or an unreachable dependency, 2 bad input.");
  return lines.join("\n") + "\n";
}

/** The package version, read from the package.json next to the sources (or the built dist/). */
function version(): string {
  return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
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
  if (groupName === "--help" || groupName === "-h" || (groupName === "help" && rest.length === 0)) {
    io.stdout(usage());
    return 0;
  }
  // `kagiya help token get` is `kagiya token get --help`.
  if (groupName === "help") return main([...rest, "--help"], io);
  if (groupName === "--version" || groupName === "-V") {
    io.stdout(`kagiya ${version()}\n`);
    return 0;
  }
  const group = groups[groupName];
  if (!group) {
    const hint = didYouMean(groupName, Object.keys(groups));
    io.stderr(`kagiya: unknown command "${groupName.slice(0, 40)}"${hint === "" ? " (run kagiya --help)" : hint}\n`);
    return 2;
  }
  let path = groupName;
  let module: CommandGroupModule<Command> | undefined;
  try {
    module = await group.load();
    const { commands } = module;
    // A group with a single default command (serve, emulator, audit) registers it under "".
    let command = commands[""];
    let args = rest;
    const sub = rest[0];
    if (sub !== undefined && !sub.startsWith("-") && commands[sub]) {
      command = commands[sub];
      args = rest.slice(1);
      path = `${groupName} ${sub}`;
    } else if (!command) {
      if (sub === "--help" || sub === "-h") {
        io.stdout(renderGroupHelp(groupName, group.summary, module));
        return 0;
      }
      const subs = Object.keys(commands).filter((n) => n !== "");
      const hint = sub === undefined ? "" : didYouMean(sub, subs);
      io.stderr(sub === undefined || sub.startsWith("-")
        ? `kagiya: ${groupName} needs a subcommand: ${subs.join(", ")} (see kagiya ${groupName} --help)\n`
        : `kagiya: unknown subcommand "${groupName} ${sub.slice(0, 40)}"${hint === "" ? ` (one of: ${subs.join(", ")})` : hint}\n`);
      return 2;
    }
    return await command!(args, io);
  } catch (error) {
    if (error instanceof HelpRequested) {
      const sub = path.includes(" ") ? path.slice(groupName.length + 1) : "";
      io.stdout(renderCommandHelp(path, error.spec, module?.help?.[sub]));
      return 0;
    }
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
    readStdin: () => readStreamText(process.stdin, { what: "standard input" }),
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
