/** Logging helpers of the webhook area: the default logger and secret-free error descriptions. */
import type { Logger } from "./types.ts";

/** @internal The logger used when none is given: warnings and errors as JSON lines on the console. */
export const defaultLogger: Logger = {
  info() {},
  warn(fields, message) {
    console.warn(JSON.stringify({ level: "warn", msg: message, ...fields }));
  },
  error(fields, message) {
    console.error(JSON.stringify({ level: "error", msg: message, ...fields }));
  },
};

/**
 * A short, secret-free description of an error for logs.
 *
 * @example
 * ```ts
 * logger.error({ err: describeError(err) }, "webhook onReject hook failed");
 * ```
 */
export function describeError(err: unknown): Record<string, unknown> {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { name: err.name, ...(typeof code === "string" ? { code } : {}), message: err.message };
  }
  return { message: String(err) };
}

/**
 * Whether a value is a promise (thenable): the intake stays synchronous when the secret lookup,
 * the verifier and the handlers are.
 */
export function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === "function";
}
