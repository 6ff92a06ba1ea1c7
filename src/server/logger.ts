import { pino, type Logger, type DestinationStream } from "pino";

/**
 * Field paths pino censors wherever they appear in a log object: credentials in headers and
 * any field named like a secret. Log calls never pass secrets in the first place; this is the
 * second line of defence.
 */
export const REDACT_PATHS = [
  "authorization",
  "cookie",
  "headers.authorization",
  "headers.cookie",
  'headers["x-line-signature"]',
  'headers["x-csrf-token"]',
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["x-line-signature"]',
  'req.headers["x-csrf-token"]',
  "accessToken",
  "access_token",
  "token",
  "key",
  "apiKey",
  "secret",
  "channelSecret",
  "privateKey",
  "assertion",
  "client_assertion",
  "signature",
  "*.accessToken",
  "*.access_token",
  "*.token",
  "*.key",
  "*.apiKey",
  "*.secret",
  "*.channelSecret",
  "*.privateKey",
  "*.assertion",
  "*.client_assertion",
  "*.signature",
];

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** pino level (default KAGIYA_LOG_LEVEL or "info"). */
  level?: string | undefined;
  /** Where JSON lines go (default stdout). */
  destination?: DestinationStream | undefined;
}

/**
 * The server's JSON logger: pino with {@link REDACT_PATHS} censored.
 *
 * @example
 * ```ts
 * const log = createLogger({ level: "debug" });
 * log.info({ channelId: "1234567890" }, "token refreshed");
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const config = {
    level: options.level ?? "info",
    base: { service: "kagiya" },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.destination ? pino(config, options.destination) : pino(config);
}

export type { Logger };
