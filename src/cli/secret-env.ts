// Secrets on the command line come only from environment variables named by a flag: a flag value
// ends up in shell history and `ps`. Messages never show a secret, nor a "name" that may be one.
import { InvalidInputError } from "../core/errors.ts";
import type { CliIO } from "./io.ts";

/** How variable names are written; anything else given to a `--…-env` flag is a value, refused. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Names shown in messages: the conventional upper-case ones (a mixed-case "name" may be a pasted secret). */
const SHOWN_NAME = /^[A-Z_][A-Z0-9_]{0,63}$/;

/**
 * The trimmed value of the variable `name` (given with `flag`), at most `maxChars` long. Refuses a
 * flag value that is not a variable name, an unset or empty variable, and an over-long value, each
 * with InvalidInputError naming the flag and never the value.
 */
export function secretFromEnv(io: Pick<CliIO, "env">, flag: string, name: string, maxChars: number): string {
  if (!ENV_NAME.test(name)) throw new InvalidInputError(`${flag} takes a variable name, not a value (put the secret in a variable: ${flag} VAR)`, { field: flag });
  const shown = SHOWN_NAME.test(name) ? `environment variable ${name}` : "the environment variable it names";
  const value = io.env[name]?.trim();
  if (value === undefined || value === "") throw new InvalidInputError(`${shown} (from ${flag}) is not set: ${flag} takes the name of a variable holding the secret, never the secret itself`, { field: flag });
  if (value.length > maxChars) throw new InvalidInputError(`the secret in ${shown} (from ${flag}) is ${value.length} characters, over the limit of ${maxChars}`, { field: flag });
  return value;
}
