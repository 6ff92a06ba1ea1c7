import { readFile, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { InvalidInputError } from "../core/errors.ts";

/** Largest file kagiya reads as a key or token: real ones are a few kilobytes. */
const MAX_BYTES = 1 << 20;

/**
 * Reads a small text file for the CLI (a key, a token), refusing a missing file, a folder,
 * an oversized or empty file with an {@link InvalidInputError} naming the path and the flag.
 *
 * @example
 * ```ts
 * const text = await readTextFile("private.jwk.json", { cwd: io.cwd, what: "key file (--key)" });
 * ```
 */
export async function readTextFile(path: string, options: { cwd: string; what: string }): Promise<string> {
  const full = resolve(options.cwd, path);
  let info;
  try {
    info = await stat(full);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ENOENT") throw new InvalidInputError(`${options.what} "${path}" does not exist`, { field: path });
    if (code === "EACCES") throw new InvalidInputError(`${options.what} "${path}" cannot be read (permission denied)`, { field: path });
    throw new InvalidInputError(`${options.what} "${path}" cannot be read (${code ?? "unknown error"})`, { field: path });
  }
  if (info.isDirectory()) throw new InvalidInputError(`${options.what} "${path}" is a folder, not a file`, { field: path });
  if (info.size > MAX_BYTES) throw new InvalidInputError(`${options.what} "${path}" is ${info.size} bytes: too large to be a key or token`, { field: path });
  let text: string;
  try {
    text = await readFile(full, "utf8");
  } catch (error) {
    throw new InvalidInputError(`${options.what} "${path}" cannot be read (${(error as { code?: string }).code ?? "unknown error"})`, { field: path });
  }
  if (text.trim() === "") throw new InvalidInputError(`${options.what} "${path}" is empty`, { field: path });
  return text;
}
