import { KagiyaError, InvalidInputError } from "../core/errors.ts";

/** Where a command writes; injected so tests and the server can capture output. */
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Reads all of standard input (for `-` arguments and piped secrets). */
  readStdin: () => Promise<string>;
  /**
   * On a terminal: shows `prompt` on stderr and reads one line without echoing it (for secrets).
   * Undefined when standard input is not a terminal; then secrets are piped and read with readStdin.
   */
  readHiddenLine?: (prompt: string) => Promise<string>;
  env: Record<string, string | undefined>;
  cwd: string;
}

/**
 * A command: takes its own argv (after the command words) and returns the exit code:
 * 0 success, 1 a failed check (lint/inspect findings), 2 bad input.
 */
export type Command = (argv: string[], io: CliIO) => Promise<number>;

/**
 * Failures of an operation that was asked for correctly (LINE or the store down or refusing, the
 * channel's token budget spent, an OAuth login refused or a grant needing a new login): exit 1 like a failed check, since changing the input would not help.
 */
const OPERATIONAL_FAILURE = /^ERR_(LINE_|OAUTH_(?!CONFIG$|INSECURE_HTTP$|DISCOVERY$|ORIGIN_NOT_ALLOWED$)|GRANT_|STORE$|STORE_UNAVAILABLE$|STORE_FULL$|STORE_SCHEMA$|TOKEN_UNAVAILABLE$|TOKEN_REVOKE_FAILED$|TOKEN_BUDGET_EXHAUSTED$|INTERNAL$)/;

/** What to do next, for errors raised below the CLI that cannot name its flags. */
const NEXT_STEP: Readonly<Record<string, string>> = {
  ERR_CHANNEL_EXISTS: "pass --replace to replace it",
};

/** Node file-system errors about a path the user named: fixed by changing the input. */
const PATH_ERROR = new Set(["ENOENT", "EISDIR", "ENOTDIR", "EACCES", "EPERM", "EEXIST", "ENAMETOOLONG", "EROFS"]);

/** Exit code for an error: 2 for anything the user can fix by changing the input, 1 otherwise. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof InvalidInputError) return 2;
  const code = (error as { code?: unknown } | null)?.code;
  if (!(error instanceof KagiyaError) && typeof code === "string" && PATH_ERROR.has(code)) return 2;
  if (error instanceof KagiyaError) return OPERATIONAL_FAILURE.test(error.code) ? 1 : 2;
  return 1;
}

/** One line for stderr. Never a stack trace: messages of KagiyaError are written to be shown. */
export function describeError(error: unknown): string {
  if (error instanceof KagiyaError) {
    const next = NEXT_STEP[error.code];
    return `kagiya: ${error.message}${next === undefined || error.message.includes(next) ? "" : `: ${next}`}`;
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && code.startsWith("E")) {
    // A Node system error (ENOENT, EISDIR, ...): its message names the path, never a secret.
    return `kagiya: ${(error as Error).message}`;
  }
  return "kagiya: internal error (run with KAGIYA_DEBUG=1 for details)";
}
