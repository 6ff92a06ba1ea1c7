import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { TokenObserver } from "../tokens/types.ts";

/** Outcomes counted for webhook requests, from the intake's answer. */
export type WebhookOutcome = "accepted" | "bad_signature" | "too_large" | "bad_request" | "unknown_channel" | "error";

/** One credential's gauges (a LINE channel or a LINE WORKS app), read at scrape time. */
export interface ChannelGauges {
  channelId: string;
  secondsToExpiry: number | null;
  /** LINE's budget left; null for kinds without a cap (LINE WORKS). */
  budgetLeft: number | null;
  /** The credential's kind ("line-v2.1", "line-works", …). */
  kind?: string;
  /** Scopes, space-separated, for kinds that have them (LINE WORKS); "" otherwise. */
  scope?: string;
  /** Epoch ms of the last refresh, or null. */
  lastRefreshAt?: number | null;
  /** The last error, or null. */
  lastError?: { at: number; code: string } | null;
}

/** Source of per-channel gauges, read at scrape time. */
export interface ChannelGaugeSource {
  /** Per credential: seconds until the current token expires (absent when none), budget left, kind, scope, last refresh and error. */
  channelGauges(): Promise<ChannelGauges[]>;
}

/** Options of {@link ServerMetrics}. */
export interface ServerMetricsOptions {
  /**
   * Series labelled by channel: true always, false never (the `channel` label reads "*" and the
   * per-channel gauges are left out), undefined (default) while the broker has at most
   * `perChannelLimit` channels, so a large deployment does not flood Prometheus.
   */
  perChannel?: boolean | undefined;
  /** The channel count past which per-channel series stop by default (200). */
  perChannelLimit?: number;
}

/** The default channel count past which `/metrics` stops labelling series by channel. */
export const PER_CHANNEL_METRICS_LIMIT = 200;

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
  readonly #perChannel: boolean | undefined;
  readonly #perChannelLimit: number;
  #channelCount: () => number = () => 0;

  constructor(options: ServerMetricsOptions = {}) {
    this.#perChannel = options.perChannel;
    this.#perChannelLimit = options.perChannelLimit ?? PER_CHANNEL_METRICS_LIMIT;
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
        if (!self.perChannel) return;
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
        if (!self.perChannel) return;
        for (const g of (await self.#gauges())) if (g.budgetLeft !== null) this.set({ channel: g.channelId }, g.budgetLeft);
      },
    });
    // LINE WORKS apps beside LINE channels: what each credential is, when it last refreshed, its last error.
    new Gauge({
      name: "kagiya_credential_info",
      help: "One series per credential (LINE channel or LINE WORKS app), always 1: its kind and scope as labels.",
      labelNames: ["channel", "kind", "scope"],
      registers,
      async collect() {
        this.reset();
        if (!self.perChannel) return;
        for (const g of (await self.#gauges())) if (g.kind !== undefined) this.set({ channel: g.channelId, kind: g.kind, scope: g.scope ?? "" }, 1);
      },
    });
    new Gauge({
      name: "kagiya_credential_last_refresh_timestamp_seconds",
      help: "When the credential's token was last refreshed (Unix seconds).",
      labelNames: ["channel"],
      registers,
      async collect() {
        this.reset();
        if (!self.perChannel) return;
        for (const g of (await self.#gauges())) if (typeof g.lastRefreshAt === "number") this.set({ channel: g.channelId }, g.lastRefreshAt / 1000);
      },
    });
    new Gauge({
      name: "kagiya_credential_last_error_timestamp_seconds",
      help: "When the credential's last token error happened (Unix seconds), labelled with its code.",
      labelNames: ["channel", "code"],
      registers,
      async collect() {
        this.reset();
        if (!self.perChannel) return;
        for (const g of (await self.#gauges())) if (g.lastError) this.set({ channel: g.channelId, code: g.lastError.code }, g.lastError.at / 1000);
      },
    });
    this.observer = {
      issued: (channelId, reason) => this.issuances.inc({ channel: this.#label(channelId), reason }),
      failed: (channelId, reason) => this.failures.inc({ channel: this.#label(channelId), reason }),
      lockWait: (channelId, ms) => this.lockWait.observe({ channel: this.#label(channelId) }, ms / 1000),
      upstream: (endpoint, status, ms) => this.upstream.observe({ endpoint, status: String(status) }, ms / 1000),
    };
  }

  /** Whether series are labelled by channel now (see {@link ServerMetricsOptions.perChannel}). */
  get perChannel(): boolean {
    return this.#perChannel ?? this.#channelCount() <= this.#perChannelLimit;
  }

  /** Sets how many channels the broker serves (the scheduler's count), for the default of {@link perChannel}. */
  setChannelCount(count: () => number): void {
    this.#channelCount = count;
  }

  #label(channelId: string): string {
    return this.perChannel ? channelId : "*";
  }

  /** Sets where per-channel gauges come from (the server's token service). */
  setChannelSource(source: ChannelGaugeSource): void {
    this.#source = source;
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  // Every gauge reads the same snapshot within one scrape.
  #pending: Promise<ChannelGauges[]> | null = null;
  #gauges(): Promise<ChannelGauges[]> {
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
