/**
 * Channel secrets for the intake: the one secret in single-channel mode, else `secretFor` with a
 * short cache on the injected clock (found and not found alike, so a flood for an unknown channel
 * does not become a flood of store reads).
 */
import { isPromise } from "./log.ts";
import type { ResolvedWebhookOptions } from "./options.ts";

/** Entries kept at most; past it the cache starts over (a bound, not an LRU: misses are cheap). */
const MAX_ENTRIES = 10_000;

/**
 * Looks up channel secrets, synchronously when it can.
 *
 * @example
 * ```ts
 * const secrets = new SecretCache(resolveWebhookOptions({ secretFor: (id) => registry.secretOf(id), now: clock }));
 * const secret = await secrets.lookup("1234567890"); // string, or null when not registered
 * ```
 */
export class SecretCache {
  readonly #single: string | undefined;
  readonly #secretFor: ResolvedWebhookOptions["secretFor"];
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, { secret: string | null; until: number }>();

  constructor(options: Pick<ResolvedWebhookOptions, "channelSecret" | "secretFor" | "secretCacheMs" | "now">) {
    this.#single = options.channelSecret;
    this.#secretFor = options.secretFor;
    this.#ttlMs = options.secretCacheMs;
    this.#now = options.now;
  }

  /** The channel's secret, or null when it is not registered. Throws or rejects when `secretFor` does. */
  lookup(channelId: string): string | null | Promise<string | null> {
    if (this.#single !== undefined) return this.#single;
    if (this.#ttlMs > 0) {
      const hit = this.#entries.get(channelId);
      if (hit !== undefined && hit.until > this.#now()) return hit.secret;
    }
    const got = this.#secretFor!(channelId);
    return isPromise(got) ? got.then((s) => this.#remember(channelId, s)) : this.#remember(channelId, got);
  }

  #remember(channelId: string, s: string | null | undefined): string | null {
    const secret = typeof s === "string" && s.length > 0 ? s : null;
    if (this.#ttlMs > 0) {
      if (this.#entries.size >= MAX_ENTRIES) this.#entries.clear();
      this.#entries.set(channelId, { secret, until: this.#now() + this.#ttlMs });
    }
    return secret;
  }
}
