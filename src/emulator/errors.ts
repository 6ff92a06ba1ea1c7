import { KagiyaError, InvalidInputError } from "../core/errors.ts";

/**
 * The `--state` file exists but cannot be read as emulator state.
 *
 * @example
 * ```ts
 * try { await startEmulator({ stateFile: "state.json" }); }
 * catch (e) { if (e instanceof EmulatorStateError) console.error(e.message); }
 * ```
 */
export class EmulatorStateError extends InvalidInputError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { code: "ERR_EMULATOR_STATE", field: "--state", cause: options?.cause });
  }
}

/**
 * The emulator could not start listening (port in use, bad host).
 *
 * @example
 * ```ts
 * try { await startEmulator({ port: 8787 }); }
 * catch (e) { if (e instanceof EmulatorListenError) console.error(e.message); }
 * ```
 */
export class EmulatorListenError extends KagiyaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_EMULATOR_LISTEN", message, options);
  }
}
