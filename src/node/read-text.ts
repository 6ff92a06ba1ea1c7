import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from "node:fs";
import { resolve } from "node:path";
import { InvalidInputError } from "../core/errors.ts";

/** Largest file or input kagiya reads as a key, token or secret: real ones are a few kilobytes. */
export const MAX_TEXT_BYTES = 1 << 20;

/** Options of {@link readTextFile} and {@link readTextFileSync}. */
export interface ReadTextOptions {
  /** Relative paths start here. */
  cwd: string;
  /** What the file is, for messages: `key file (--key)`. */
  what: string;
  /** Largest accepted size in bytes (default {@link MAX_TEXT_BYTES}). */
  maxBytes?: number;
  /**
   * Refuse a file that group or others may read, write or run (`mode & 0o077`): for files that
   * hold secrets. Checked on the opened file, so a swap after the check cannot slip through.
   */
  ownerOnly?: boolean;
}

/**
 * Never blocks in open(): a FIFO without a writer would otherwise hang there forever. It has no
 * effect on regular files, and the file's type is checked before anything is read.
 */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/**
 * Reads a small text file for the CLI (a key, a token), refusing a missing file, a folder, a
 * FIFO, device or socket, an oversized or empty file with an {@link InvalidInputError} naming the
 * path and the flag. The size is counted while reading, never taken from `stat` (0 for devices and
 * many special files), so memory stays bounded whatever the path names.
 *
 * @example
 * ```ts
 * const text = await readTextFile("private.jwk.json", { cwd: io.cwd, what: "key file (--key)" });
 * ```
 */
export async function readTextFile(path: string, options: ReadTextOptions): Promise<string> {
  // Synchronous underneath: a few kilobytes, read once by a one-shot command or at start-up.
  return readTextFileSync(path, options);
}

/**
 * {@link readTextFile} for synchronous callers (start-up code).
 *
 * @example
 * ```ts
 * const text = readTextFileSync("state.json", { cwd: process.cwd(), what: "state file (--state)", maxBytes: 256 << 20 });
 * ```
 */
export function readTextFileSync(path: string, options: ReadTextOptions): string {
  const max = options.maxBytes ?? MAX_TEXT_BYTES;
  const fail = refusal(path, options.what);
  let fd: number;
  try {
    fd = openSync(resolve(options.cwd, path), OPEN_FLAGS);
  } catch (error) {
    throw fail(systemReason(error), error);
  }
  try {
    const info = fstatSync(fd);
    checkKind(info, fail);
    if (options.ownerOnly && (info.mode & 0o077) !== 0) {
      const mode = (info.mode & 0o777).toString(8).padStart(4, "0");
      throw fail(`is open to group or others (mode ${mode}): it holds secrets, so only its owner may have access (chmod 600 it)`);
    }
    const buf = Buffer.alloc(Math.min(max + 1, 64 * 1024));
    const chunks: Buffer[] = [];
    let size = 0;
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (error) {
        throw fail(systemReason(error), error);
      }
      if (n === 0) break;
      size += n;
      if (size > max) throw fail(`is over ${max} bytes, the most kagiya reads here`);
      chunks.push(Buffer.from(buf.subarray(0, n)));
    }
    return nonEmpty(Buffer.concat(chunks, size).toString("utf8"), fail);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a stream (standard input) to text, refusing more than `maxBytes` with an
 * {@link InvalidInputError} as soon as it is passed: `kagiya jwt inspect - </dev/zero` stops at
 * the limit instead of filling memory. Stopping early destroys the stream.
 *
 * @example
 * ```ts
 * const token = await readStreamText(process.stdin, { what: "standard input" });
 * ```
 */
export async function readStreamText(stream: AsyncIterable<Buffer | string>, options: { what: string; maxBytes?: number }): Promise<string> {
  const max = options.maxBytes ?? MAX_TEXT_BYTES;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    size += b.length;
    if (size > max) throw new InvalidInputError(`${options.what} is over ${max} bytes: too large to be a key, token or secret`, { field: "-" });
    chunks.push(b);
  }
  return Buffer.concat(chunks, size).toString("utf8");
}

type Refusal = (reason: string, cause?: unknown) => InvalidInputError;

function refusal(path: string, what: string): Refusal {
  return (reason, cause) => new InvalidInputError(`${what} "${path}" ${reason}`, { field: path, ...(cause === undefined ? {} : { cause }) });
}

function systemReason(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === "ENOENT") return "does not exist";
  if (code === "EACCES" || code === "EPERM") return "cannot be read (permission denied)";
  if (code === "EISDIR") return "is a folder, not a file";
  return `cannot be read (${code ?? "unknown error"})`;
}

/** Only regular files: a FIFO could block forever, a device could be endless. */
function checkKind(info: Stats, fail: Refusal): void {
  if (info.isFile()) return;
  if (info.isDirectory()) throw fail("is a folder, not a file");
  const kind = info.isFIFO() ? "a FIFO (named pipe)" : info.isCharacterDevice() || info.isBlockDevice() ? "a device" : info.isSocket() ? "a socket" : "a special file";
  throw fail(`is ${kind}, not a regular file: save the content to a file and name that`);
}

function nonEmpty(text: string, fail: Refusal): string {
  if (text.trim() === "") throw fail("is empty");
  return text;
}
