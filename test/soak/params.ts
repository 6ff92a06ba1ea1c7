// The soak's parameters: parsed from `npm run soak -- …`, checked once; a bad one is one line and exit 2.

/** What one soak run is asked to do. */
export interface SoakParams {
  /** Seeds every random choice of the schedule (faults, kills, outages, deliveries, reads). */
  seed: number;
  /** Simulated days the emulator's clock is moved through. */
  days: number;
  /** `kagiya serve` processes on the one store. */
  instances: number;
  /** Credentials, shared out over the kinds (see KINDS in schedule.ts). */
  channels: number;
  store: "redis" | "postgres";
  /** Simulated seconds per step (the clock jumps this far between two rounds of checks). */
  stepSeconds: number;
  /** Real milliseconds one step lasts (its sub-ticks share it); longer gives the processes more time. */
  stepMs: number;
}

/** A parameter the soak cannot run with (the CLI prints its message on one line, exit 2). */
export class SoakParamError extends Error {
  override name = "SoakParamError";
}

export const USAGE = "usage: npm run soak -- --seed N --days D --instances K --channels M [--store redis|postgres] [--step-seconds S] [--step-ms MS]";

const DEFAULTS: Omit<SoakParams, "seed"> = { days: 2, instances: 3, channels: 8, store: "redis", stepSeconds: 3600, stepMs: 1000 };

function int(name: string, text: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(text)) throw new SoakParamError(`--${name} must be a whole number from ${min} to ${max}, not "${text.slice(0, 40)}"`);
  const n = Number(text);
  if (n < min || n > max) throw new SoakParamError(`--${name} must be from ${min} to ${max}, not ${text.slice(0, 40)}`);
  return n;
}

/**
 * Parses `--flag value` pairs (also `--flag=value`). Throws {@link SoakParamError} on anything
 * unknown, missing or out of range; `--seed` defaults to a random one (printed, so it replays).
 */
export function parseSoakArgs(argv: readonly string[], random: () => number = Math.random): SoakParams {
  const given = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new SoakParamError(`unexpected argument "${arg.slice(0, 40)}" (${USAGE})`);
    const name = m[1]!;
    if (!["seed", "days", "instances", "channels", "store", "step-seconds", "step-ms"].includes(name)) throw new SoakParamError(`unknown option --${name.slice(0, 40)} (${USAGE})`);
    if (given.has(name)) throw new SoakParamError(`--${name} given twice`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new SoakParamError(`--${name} needs a value`);
    given.set(name, value);
  }
  const p: SoakParams = { seed: Math.floor(random() * 2 ** 32), ...DEFAULTS };
  const v = (name: string) => given.get(name);
  if (v("seed") !== undefined) p.seed = int("seed", v("seed")!, 0, 2 ** 32 - 1);
  if (v("days") !== undefined) {
    const d = v("days")!;
    if (!/^\d+(\.\d+)?$/.test(d) || !(Number(d) > 0) || Number(d) > 365) throw new SoakParamError(`--days must be a number of days above 0 and at most 365, not "${d.slice(0, 40)}"`);
    p.days = Number(d);
  }
  if (v("instances") !== undefined) p.instances = int("instances", v("instances")!, 1, 16);
  if (v("channels") !== undefined) p.channels = int("channels", v("channels")!, 4, 500);
  if (v("store") !== undefined) {
    const s = v("store")!;
    if (s !== "redis" && s !== "postgres") throw new SoakParamError(`--store must be redis or postgres, not "${s.slice(0, 40)}"`);
    p.store = s;
  }
  if (v("step-seconds") !== undefined) p.stepSeconds = int("step-seconds", v("step-seconds")!, 600, 6 * 3600);
  if (v("step-ms") !== undefined) p.stepMs = int("step-ms", v("step-ms")!, 200, 60_000);
  if (Math.ceil((p.days * 86400) / p.stepSeconds) < 6) throw new SoakParamError(`--days ${p.days} at --step-seconds ${p.stepSeconds} makes fewer than 6 steps: run longer`);
  return p;
}
