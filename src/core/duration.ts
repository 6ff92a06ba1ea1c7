import { InvalidInputError } from "./errors.ts";

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * Parses a duration written as an integer with an optional unit, `s`, `m`, `h` or `d`
 * (plain numbers are seconds), and returns whole seconds. Refuses fractions, signs,
 * spaces and unknown units with an {@link InvalidInputError} naming `field`.
 *
 * @example
 * ```ts
 * parseDuration("5m"); // 300
 * parseDuration("30d"); // 2592000
 * parseDuration("90"); // 90
 * ```
 */
export function parseDuration(text: string, field = "duration"): number {
  const match = /^(\d{1,12})([smhd]?)$/.exec(text);
  if (!match) {
    throw new InvalidInputError(`${field} "${text.slice(0, 40)}" is not a duration: write a whole number with s, m, h or d (e.g. 5m, 30d) or plain seconds`, { field });
  }
  return Number(match[1]) * UNIT_SECONDS[match[2] || "s"]!;
}

/**
 * Formats seconds the way {@link parseDuration} reads them, with the largest exact unit.
 *
 * @example
 * ```ts
 * formatDuration(1800); // "30m"
 * ```
 */
export function formatDuration(seconds: number): string {
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]] as const) {
    if (seconds !== 0 && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
