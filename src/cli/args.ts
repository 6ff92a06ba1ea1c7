import { InvalidInputError } from "../core/errors.ts";
import { didYouMean } from "./suggest.ts";

/** How one flag is read: a boolean switch, a single string, or a repeatable string. */
export type FlagKind = "boolean" | "string" | "strings";

/**
 * A flag with its documentation: `kagiya COMMAND --help` is rendered from these, so the help a
 * user reads is the spec the parser enforces.
 */
export interface FlagDoc {
  readonly kind: FlagKind;
  /** One line: what the flag does. */
  readonly help: string;
  /** Placeholder for the value in the usage line (default VALUE). */
  readonly value?: string;
  /** The default when the flag is absent, with its unit ("8080", "100 records", "30d"). */
  readonly default?: string;
  /** The environment variable read when the flag is absent. */
  readonly env?: string;
}

/** Declares the flags a command accepts; anything else is refused. */
export type FlagSpec = Record<string, FlagKind | FlagDoc>;

type KindOf<T> = T extends FlagDoc ? T["kind"] : T;

/** Parsed flags (camelCase keys are *not* derived: keys are the flag names as declared). */
export type Flags<S extends FlagSpec> = {
  [K in keyof S]?: KindOf<S[K]> extends "boolean" ? boolean : KindOf<S[K]> extends "strings" ? string[] : string;
};

/**
 * Thrown by {@link parseArgs} when argv asks for help (`--help` or `-h`): the CLI catches it and
 * prints the help rendered from `spec`, so every command that parses its flags has help.
 */
export class HelpRequested extends Error {
  readonly spec: FlagSpec;
  constructor(spec: FlagSpec) {
    super("help requested");
    this.spec = spec;
  }
}

/** The kind of a declared flag, whether written as a bare kind or with its documentation. */
export function flagKind(entry: FlagKind | FlagDoc): FlagKind {
  return typeof entry === "string" ? entry : entry.kind;
}

/**
 * Parses `argv` strictly: unknown flags, missing values and repeated single flags are errors
 * (exit 2), so a typo never silently changes what a command does. `--flag=value` and
 * `--flag value` are both accepted; `--` ends flag parsing.
 */
export function parseArgs<S extends FlagSpec>(argv: readonly string[], spec: S): { flags: Flags<S>; positionals: string[] } {
  const end = argv.indexOf("--");
  if ((end === -1 ? argv : argv.slice(0, end)).some((a) => a === "--help" || a === "-h")) throw new HelpRequested(spec);
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
        const long = didYouMean(arg.replace(/^-+/, ""), Object.keys(spec), "--");
        throw new InvalidInputError(`unknown option ${arg} (options are written --name${long === "" ? "" : `;${long.slice(2, -1)}`})`, { field: arg });
      }
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const entry = spec[name];
    if (entry === undefined) {
      const hint = didYouMean(name, Object.keys(spec), "--");
      throw new InvalidInputError(`unknown option --${name}${hint === "" ? " (see --help)" : hint}`, { field: `--${name}` });
    }
    const kind = flagKind(entry);
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
