import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { TokenObserver } from "../tokens/types.ts";

/** Outcomes counted for webhook requests, from the intake's answer. */
export type WebhookOutcome = "accepted" | "bad_signature" | "too_large" | "bad_request" | "unknown_channel" | "error";

/** Source of per-channel gauges, read at scrape time. */
export interface ChannelGaugeSource {
  /** Channel id → seconds until the current token expires (absent when none) and budget left. */
  channelGauges(): Promise<Array<{ channelId: string; secondsToExpiry: number | null; budgetLeft: number | null }>>;
}

/**
 * Prometheus metrics of one server, in their own registry (so several servers in one process,
 * as in tests, never collide). `observer` feeds the TokenManager's events in.
 *
 * @example
 * ```ts
 * const metrics = new ServerMetrics();
 * const manager = new TokenManager({ store, observer: metrics.observer });
 * res.end(await metrics.render());
 * ```
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly issuances: Counter<"channel" | "reason">;
  readonly failures: Counter<"channel" | "reason">;
  readonly webhooks: Counter<"outcome">;
  readonly tokenApi: Counter<"outcome">;
  readonly upstream: Histogram<"endpoint" | "status">;
  readonly lockWait: Histogram<"channel">;
  readonly schedulerRuns: Counter<"outcome">;
  readonly observer: TokenObserver;
  #source: ChannelGaugeSource | null = null;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "kagiya_" });
    this.issuances = new Counter({ name: "kagiya_token_issuances_total", help: "Access tokens issued by LINE, by channel and reason.", labelNames: ["channel", "reason"], registers });
    this.failures = new Counter({ name: "kagiya_token_failures_total", help: "Failed token operations, by channel and reason (error code).", labelNames: ["channel", "reason"], registers });
    this.webhooks = new Counter({ name: "kagiya_webhook_requests_total", help: "Webhook requests, by outcome.", labelNames: ["outcome"], registers });
    this.tokenApi = new Counter({ name: "kagiya_token_api_requests_total", help: "Token API requests, by outcome.", labelNames: ["outcome"], registers });
    this.upstream = new Histogram({
      name: "kagiya_upstream_request_seconds",
      help: "Latency of requests to LINE, by endpoint and status.",
      labelNames: ["endpoint", "status"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.lockWait = new Histogram({
      name: "kagiya_lock_wait_seconds",
      help: "Time spent waiting for a channel's issuance lock.",
      labelNames: ["channel"],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
    this.schedulerRuns = new Counter({ name: "kagiya_scheduler_runs_total", help: "Background scheduler actions, by outcome.", labelNames: ["outcome"], registers });
    const self = this;
    new Gauge({
      name: "kagiya_token_seconds_to_expiry",
      help: "Seconds until the channel's current access token expires.",
      labelNames: ["channel"],
      registers,
      async collect() {
        this.reset();
        for (const g of (await self.#gauges())) if (g.secondsToExpiry !== null) this.set({ channel: g.channelId }, g.secondsToExpiry);
      },
    });
    new Gauge({
      name: "kagiya_token_budget_left",
      help: "Valid tokens LINE would still issue for the channel (30 minus kagiya's own and orphans).",
      labelNames: ["channel"],
      registers,
      async collect() {
        this.reset();
        for (const g of (await self.#gauges())) if (g.budgetLeft !== null) this.set({ channel: g.channelId }, g.budgetLeft);
      },
    });
    this.observer = {
      issued: (channelId, reason) => this.issuances.inc({ channel: channelId, reason }),
      failed: (channelId, reason) => this.failures.inc({ channel: channelId, reason }),
      lockWait: (channelId, ms) => this.lockWait.observe({ channel: channelId }, ms / 1000),
      upstream: (endpoint, status, ms) => this.upstream.observe({ endpoint, status: String(status) }, ms / 1000),
    };
  }

  /** Sets where per-channel gauges come from (the server's token service). */
  setChannelSource(source: ChannelGaugeSource): void {
    this.#source = source;
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  // Both gauges read the same snapshot within one scrape.
  #pending: Promise<Array<{ channelId: string; secondsToExpiry: number | null; budgetLeft: number | null }>> | null = null;
  #gauges(): Promise<Array<{ channelId: string; secondsToExpiry: number | null; budgetLeft: number | null }>> {
    if (this.#source === null) return Promise.resolve([]);
    if (this.#pending === null) {
      this.#pending = this.#source.channelGauges().catch(() => []);
      const clear = (): void => {
        this.#pending = null;
      };
      void this.#pending.then(() => setTimeout(clear, 100));
    }
    return this.#pending;
  }
}
