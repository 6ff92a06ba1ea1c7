import type { Counter } from "prom-client";

/** One interval of a series: when it ended (epoch ms) and how many of each outcome it counted. */
export interface ActivityPoint {
  at: number;
  counts: Record<string, number>;
}

/** What the dashboard draws for one counter over the last hour. */
export interface ActivitySeries {
  /** Start of the window (epoch ms). */
  from: number;
  /** Every outcome the counter has seen, in a stable order. */
  outcomes: string[];
  /** Oldest first; the last point is the interval still running (up to now). */
  points: ActivityPoint[];
}

/** Totals by `outcome` label of a prom-client counter, read from the counter itself. */
async function totalsByOutcome(counter: Counter<"outcome">): Promise<Record<string, number>> {
  const totals: Record<string, number> = {};
  for (const v of (await counter.get()).values) {
    const outcome = String(v.labels["outcome"] ?? "");
    totals[outcome] = (totals[outcome] ?? 0) + v.value;
  }
  return totals;
}

/**
 * The last hour of a server counter, for the dashboard's charts: `sample()` (every minute, from
 * the server's timer) keeps the counter's totals; a series is the difference between consecutive
 * samples, plus the running interval up to now. Nothing is counted twice: the counter stays the
 * one source of truth, and /metrics shows the same totals.
 *
 * @example
 * ```ts
 * const history = new CounterHistory(metrics.webhooks, { now: Date.now });
 * await history.sample();
 * const { points } = await history.series();
 * ```
 */
export class CounterHistory {
  readonly #counter: Counter<"outcome">;
  readonly #now: () => number;
  readonly #windowMs: number;
  #samples: Array<{ at: number; totals: Record<string, number> }> = [];

  constructor(counter: Counter<"outcome">, options: { now: () => number; windowMs?: number }) {
    this.#counter = counter;
    this.#now = options.now;
    this.#windowMs = options.windowMs ?? 3_600_000;
  }

  /** Records the counter's totals now; samples older than the window (but the one opening it) go. */
  async sample(): Promise<void> {
    const at = this.#now();
    this.#samples.push({ at, totals: await totalsByOutcome(this.#counter) });
    const from = at - this.#windowMs;
    while (this.#samples.length > 1 && this.#samples[1]!.at <= from) this.#samples.shift();
  }

  /** The counts per interval over the window, ending now. */
  async series(): Promise<ActivitySeries> {
    const now = this.#now();
    const live = { at: now, totals: await totalsByOutcome(this.#counter) };
    const samples = [...this.#samples.filter((s) => s.at <= now), live];
    const outcomes = Object.keys(live.totals).sort();
    const points: ActivityPoint[] = [];
    for (let i = 1; i < samples.length; i++) {
      if (samples[i]!.at <= now - this.#windowMs) continue;
      const counts: Record<string, number> = {};
      for (const o of outcomes) counts[o] = (samples[i]!.totals[o] ?? 0) - (samples[i - 1]!.totals[o] ?? 0);
      points.push({ at: samples[i]!.at, counts });
    }
    return { from: now - this.#windowMs, outcomes, points };
  }
}
