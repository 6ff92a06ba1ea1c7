import { InvalidInputError } from "../core/errors.ts";

/** How one flag is read: a boolean switch, a single string, or a repeatable string. */
export type FlagKind = "boolean" | "string" | "strings";

/** Declares the flags a command accepts; anything else is refused. */
export type FlagSpec = Record<string, FlagKind>;

/** Parsed flags (camelCase keys are *not* derived: keys are the flag names as declared). */
export type Flags<S extends FlagSpec> = {
  [K in keyof S]?: S[K] extends "boolean" ? boolean : S[K] extends "strings" ? string[] : string;
};

/**
 * Parses `argv` strictly: unknown flags, missing values and repeated single flags are errors
 * (exit 2), so a typo never silently changes what a command does. `--flag=value` and
 * `--flag value` are both accepted; `--` ends flag parsing.
 */
export function parseArgs<S extends FlagSpec>(argv: readonly string[], spec: S): { flags: Flags<S>; positionals: string[] } {
  const flags: Record<string, unknown> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--") || arg === "-") {
      if (arg.startsWith("-") && arg !== "-" && !/^-\d/.test(arg)) {
        throw new InvalidInputError(`unknown option ${arg} (options are written --name)`, { field: arg });
      }
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const kind = spec[name];
    if (kind === undefined) {
      throw new InvalidInputError(`unknown option --${name}`, { field: `--${name}` });
    }
    if (kind === "boolean") {
      if (eq !== -1) throw new InvalidInputError(`option --${name} takes no value`, { field: `--${name}` });
      flags[name] = true;
      continue;
    }
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      if (value === undefined || (value.startsWith("--") && value.length > 2)) {
        throw new InvalidInputError(`option --${name} needs a value`, { field: `--${name}` });
      }
      i++;
    }
    if (kind === "strings") {
      ((flags[name] ??= []) as string[]).push(value);
    } else {
      if (flags[name] !== undefined) throw new InvalidInputError(`option --${name} given more than once`, { field: `--${name}` });
      flags[name] = value;
    }
  }
  return { flags: flags as Flags<S>, positionals };
}

/** Returns the flag's value or throws the CLI's "missing required option" error. */
export function required(value: string | undefined, name: string): string {
  if (value === undefined || value === "") throw new InvalidInputError(`missing required option --${name}`, { field: `--${name}` });
  return value;
}

/** A TCP port from a flag or variable: decimal digits only, 0 (a free port) to 65535. */
export function parsePort(value: string, name = "--port"): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) {
    throw new InvalidInputError(`${name} must be a number from 0 to 65535, not "${value.slice(0, 20)}"`, { field: name });
  }
  return Number(value);
}
