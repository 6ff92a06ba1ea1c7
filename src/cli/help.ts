// Help text rendered from the flag specs the parser enforces (see args.ts), plus a short
// description per command: `kagiya COMMAND [SUBCOMMAND] --help`, `-h` and `kagiya help COMMAND`.
import { flagKind, type FlagDoc, type FlagSpec } from "./args.ts";

/** What a command's help says beyond its flags (which come from its parser spec). */
export interface CommandHelp {
  /** One line: what the command does. */
  readonly summary: string;
  /** Positional arguments for the usage line, e.g. "CHANNEL [KEY_ID]". */
  readonly args?: string;
  /** Further lines after the summary, when one line is not enough. */
  readonly description?: string;
  /** Environment variables the command reads (besides a flag's own `env`); described in {@link ENVIRONMENT}. */
  readonly env?: readonly string[];
  /** What exit code 1 means for this command, when it is more specific than the general table. */
  readonly failure?: string;
  /** One example command line, starting with `kagiya`. */
  readonly example: string;
}

/** A command group's module: the commands and, keyed the same way, their help. */
export interface CommandGroupModule<C> {
  readonly commands: Record<string, C>;
  readonly help?: Record<string, CommandHelp>;
}

/** Every exit code the CLI uses (docs/cli.md holds the same table; a test compares them). */
export const EXIT_CODES: ReadonlyArray<readonly [number, string]> = [
  [0, "success"],
  [1, "a check failed (lint or inspect findings, a token not revoked), or a dependency is unreachable or refusing: LINE, Redis, PostgreSQL"],
  [2, "bad input: an unknown command or option, a missing or malformed value, a missing file; one line on stderr"],
];

/** Every environment variable kagiya reads, described once (docs/cli.md lists the same). */
export const ENVIRONMENT: Readonly<Record<string, string>> = {
  DATABASE_URL: "PostgreSQL store when --store is not given (postgres://USER@HOST:PORT/DB)",
  REDIS_URL: "Redis store when --store and DATABASE_URL are not given (redis://HOST:PORT, or redis+sentinel://HOST:PORT,…/MASTER behind Sentinel)",
  KAGIYA_DB: "SQLite store file when no other store is named (default ./kagiya.db)",
  KAGIYA_MASTER_KEY: "master key sealing secrets at rest: 32 bytes as 64 hex characters or base64 (kagiya keys new-master)",
  KAGIYA_MASTER_KEY_FILE: "file holding the master key (mode 0600), instead of KAGIYA_MASTER_KEY",
  KAGIYA_MASTER_KEY_OLD: "the previous master key, while rotating (kagiya keys rotate-master)",
  KAGIYA_MASTER_KEY_OLD_FILE: "file holding the previous master key, instead of KAGIYA_MASTER_KEY_OLD",
  KAGIYA_LINE_API_BASE: "LINE API origin (default https://api.line.me; the emulator's URL in development)",
  KAGIYA_WORKS_AUTH_BASE: "LINE WORKS auth server origin (default https://auth.worksmobile.com; the emulator's URL in development)",
  KAGIYA_WORKS_API_BASE: "LINE WORKS API origin, for bot messages (default https://www.worksapis.com; the emulator's URL in development)",
  KAGIYA_LINE_LOGIN_BASE: "LINE Login authorization origin for the line-login preset (default https://access.line.me; the emulator's URL in development)",
  KAGIYA_ALLOW_INSECURE_HTTP: "1 allows OAuth endpoints on plain http off loopback (like --allow-insecure; never in production)",
  KAGIYA_ADMIN_TOKEN: "dashboard admin token (at least 24 characters); else the one from kagiya admin token",
  KAGIYA_RATE_LIMIT: "token API requests per second per API key (default 50)",
  KAGIYA_LOG_LEVEL: "log level: fatal, error, warn, info (default), debug, trace, silent",
  KAGIYA_SECURE_COOKIES: "1 marks dashboard cookies Secure (behind HTTPS)",
  PORT: "port to listen on when --port is not given",
  KAGIYA_EMULATOR_PORT: "emulator port when --port is not given (default 8787)",
  KAGIYA_EMULATOR_HOST: "emulator interface when --host is not given (default 127.0.0.1)",
  KAGIYA_EMULATOR_STATE: "emulator state file when --state is not given",
  KAGIYA_DEBUG: "1 prints the stack trace of an internal error",
  KAGIYA_TEST_MODE: "TEST ONLY: 1 allows the test settings below (refused without it)",
  KAGIYA_TEST_CLOCK_URL: "TEST ONLY: follow this clock (the emulator's /__emulator/clock) instead of real time; needs KAGIYA_TEST_MODE=1",
  KAGIYA_TEST_CLOCK_SKEW_MS: "TEST ONLY: milliseconds added to the KAGIYA_TEST_CLOCK_URL clock (clock skew between processes)",
};

/** The variables that choose a store (every command with --store reads them). */
export const STORE_ENV = ["DATABASE_URL", "REDIS_URL", "KAGIYA_DB"] as const;

/** A store with sealed secrets in it: the store's variables and the master key's. */
export const SEALED_STORE_ENV = [...STORE_ENV, "KAGIYA_MASTER_KEY", "KAGIYA_MASTER_KEY_FILE"] as const;

/** `--store SPEC`, shared by every command that opens a store. */
export const STORE_FLAG = {
  kind: "string",
  value: "SPEC",
  help: "store: sqlite:PATH, redis://HOST:PORT, redis+sentinel://HOST:PORT,…/MASTER or postgres://USER@HOST/DB",
  default: "DATABASE_URL, else REDIS_URL, else sqlite:KAGIYA_DB, else sqlite:./kagiya.db",
} as const satisfies FlagDoc;

/** `--json`, shared by every command that can print JSON. */
export const JSON_FLAG = { kind: "boolean", help: "print JSON (one line) instead of text" } as const satisfies FlagDoc;

function flagLine(name: string, entry: FlagSpec[string]): [string, string] {
  const doc: Partial<FlagDoc> = typeof entry === "string" ? {} : entry;
  const kind = flagKind(entry);
  const left = kind === "boolean" ? `--${name}` : `--${name} ${doc.value ?? "VALUE"}`;
  const notes = [
    kind === "strings" ? "repeatable" : "",
    doc.default !== undefined ? `default: ${doc.default}` : "",
    doc.env !== undefined ? `env ${doc.env}` : "",
  ].filter((n) => n !== "");
  return [left, `${doc.help ?? ""}${notes.length > 0 ? ` (${notes.join("; ")})` : ""}`];
}

function columns(rows: ReadonlyArray<readonly [string, string]>): string[] {
  const width = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`.trimEnd());
}

/** The variables a command's help lists: its own and its flags', in a stable order. */
export function envOf(spec: FlagSpec, help: CommandHelp | undefined): string[] {
  const names = new Set<string>(help?.env ?? []);
  for (const entry of Object.values(spec)) if (typeof entry !== "string" && entry.env !== undefined) names.add(entry.env);
  return [...names];
}

/**
 * Help for one command: usage, each flag with its default, the environment variables read, exit
 * codes and one example. `path` is the command words, e.g. "token get".
 */
export function renderCommandHelp(path: string, spec: FlagSpec, help: CommandHelp | undefined): string {
  const names = Object.keys(spec);
  const usage = [`kagiya ${path}`, help?.args ?? "", names.length > 0 ? "[options]" : ""].filter((p) => p !== "").join(" ");
  const lines = [`usage: ${usage}`, ""];
  if (help) lines.push(help.summary, ...(help.description ? help.description.split("\n") : []), "");
  lines.push("options:", ...columns([...names.map((n) => flagLine(n, spec[n]!)), ["-h, --help", "show this help"]]), "");
  const env = envOf(spec, help);
  if (env.length > 0) lines.push("environment:", ...columns(env.map((e) => [e, ENVIRONMENT[e] ?? ""])), "");
  lines.push("exit codes:", ...columns(EXIT_CODES.map(([c, what]) => [String(c), c === 1 && help?.failure ? help.failure : what])), "");
  if (help) lines.push("example:", `  ${help.example}`, "");
  return lines.join("\n");
}

/** Help for a command group: its subcommands with their summaries. */
export function renderGroupHelp(group: string, summary: string, module: CommandGroupModule<unknown>): string {
  const subs = Object.keys(module.commands).filter((n) => n !== "");
  return [
    `usage: kagiya ${group} <subcommand> [options]`,
    "",
    summary,
    "",
    "subcommands:",
    ...columns(subs.map((s) => [s, module.help?.[s]?.summary ?? ""])),
    "",
    `run kagiya ${group} SUBCOMMAND --help for its options`,
    "",
  ].join("\n");
}
