/**
 * Credentials as the engine works with them: the registry's row with its secrets open, its kind,
 * and its policy resolved by that kind (validated and frozen once per version of the row).
 *
 * @module
 */
import { MicroBatcher } from "../store/batcher.ts";
import { ChannelNotFoundError } from "../store/errors.ts";
import type { Channel, ChannelRegistry, RegistryStore } from "../store/registry.ts";
import { kindNameOf, type CredentialKind, type KindRegistry } from "./kind.ts";
import type { TokenPolicy } from "./policy.ts";

/** A credential ready for the engine. */
export interface CredentialEntry {
  readonly channel: Channel;
  readonly kind: CredentialKind;
  readonly policy: TokenPolicy;
  loadedAt: number;
  readonly updatedAt: number;
}

/**
 * Credentials read from the registry at most once per `checkMs` (a change elsewhere is seen within
 * it). A due re-check of a credential already in memory reads only its updatedAt, batched with the
 * other re-checks asked for at the same time (one round trip for many credentials); the row itself
 * is read again only when it changed.
 */
export class CredentialCache {
  readonly #entries = new Map<string, CredentialEntry>();
  readonly #registry: ChannelRegistry<RegistryStore>;
  readonly #kinds: KindRegistry;
  readonly #checkMs: number;
  readonly #versions: MicroBatcher<string, number | null>;

  constructor(registry: ChannelRegistry<RegistryStore>, kinds: KindRegistry, checkMs: number) {
    this.#registry = registry;
    this.#kinds = kinds;
    this.#checkMs = checkMs;
    // Window 0 (the end of the tick), two batches at once: under load, re-checks queue up behind
    // the running batches and go together; alone, one waits no longer than its own read.
    this.#versions = new MicroBatcher({
      run: async (ids) => {
        const found = await registry.store.getChannelVersions(ids);
        return ids.map((id) => found.get(id) ?? null);
      },
      maxInFlight: 2,
      maxBatch: 1000,
    });
  }

  /** The credential (`fresh`: read the registry now). Throws ChannelNotFoundError when absent. */
  async load(id: string, now: number, fresh = false): Promise<CredentialEntry> {
    const e = this.#entries.get(id);
    if (!fresh && e !== undefined && now - e.loadedAt < this.#checkMs && now >= e.loadedAt) return e;
    if (!fresh && e !== undefined) {
      const version = await this.#versions.add(id);
      if (version === null) throw new ChannelNotFoundError(id);
      if (version === e.updatedAt) {
        e.loadedAt = now;
        return e;
      }
    }
    const channel = await this.#registry.require(id);
    if (e !== undefined && e.updatedAt === channel.updatedAt) {
      e.loadedAt = now;
      return e;
    }
    const kind = this.#kinds.get(kindNameOf(channel));
    const entry: CredentialEntry = { channel, kind, policy: kind.resolvePolicy(channel.policy), loadedAt: now, updatedAt: channel.updatedAt };
    this.#entries.set(id, entry);
    return entry;
  }

  /** The entry in memory, if any (never reads the registry). */
  peek(id: string): CredentialEntry | undefined {
    return this.#entries.get(id);
  }

  clear(): void {
    this.#entries.clear();
  }
}
