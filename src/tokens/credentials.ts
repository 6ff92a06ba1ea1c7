/**
 * Credentials as the engine works with them: the registry's row with its secrets open, its kind,
 * and its policy resolved by that kind (validated and frozen once per version of the row).
 *
 * @module
 */
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

/** Credentials read from the registry at most once per `checkMs` (a change elsewhere is seen within it). */
export class CredentialCache {
  readonly #entries = new Map<string, CredentialEntry>();
  readonly #registry: ChannelRegistry<RegistryStore>;
  readonly #kinds: KindRegistry;
  readonly #checkMs: number;

  constructor(registry: ChannelRegistry<RegistryStore>, kinds: KindRegistry, checkMs: number) {
    this.#registry = registry;
    this.#kinds = kinds;
    this.#checkMs = checkMs;
  }

  /** The credential (`fresh`: read the registry now). Throws ChannelNotFoundError when absent. */
  async load(id: string, now: number, fresh = false): Promise<CredentialEntry> {
    const e = this.#entries.get(id);
    if (!fresh && e !== undefined && now - e.loadedAt < this.#checkMs && now >= e.loadedAt) return e;
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
