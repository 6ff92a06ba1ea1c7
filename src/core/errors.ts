/**
 * Every error kagiya throws is a {@link KagiyaError} with a stable `code`.
 * Messages name the problem and how to fix it; they never carry a token,
 * assertion, private key member, channel secret or API key.
 *
 * @example
 * ```ts
 * import { KagiyaError } from "kagiya";
 * try { await manager.get("1234567890"); }
 * catch (e) { if (e instanceof KagiyaError && e.code === "ERR_TOKEN_UNAVAILABLE") retryLater(); }
 * ```
 */
export class KagiyaError extends Error {
  /** Stable machine-readable code, e.g. `ERR_INVALID_INPUT`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Bad input from the caller: a flag, a file, a value out of range. The CLI exits 2 on these. */
export class InvalidInputError extends KagiyaError {
  /** The flag, field or file the problem is in, when there is one. */
  readonly field: string | undefined;
  constructor(message: string, options?: { field?: string; code?: string; cause?: unknown }) {
    super(options?.code ?? "ERR_INVALID_INPUT", message, options);
    this.field = options?.field;
  }
}

/** A key that is not usable for what was asked (wrong type, size, or members). */
export class KeyError extends KagiyaError {
  constructor(message: string, options?: { code?: string; cause?: unknown }) {
    super(options?.code ?? "ERR_KEY_INVALID", message, options);
  }
}

/** A compact JWS that cannot be decoded at all. */
export class JwsFormatError extends KagiyaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_JWS_FORMAT", message, options);
  }
}
