// Shared by the scale test and bench: many channels registered in the emulator and a registry,
// and a store wrapped to count the calls made through it.
import type { ChannelRegistry } from "../../src/store/registry.ts";
import type { Store } from "../../src/store/types.ts";
import { createTestChannels, type LedgerRow } from "../helpers/emulator.ts";

/**
 * Creates `count` emulator channels in one control call (the process's one test key registered to
 * each) and adds them to the registry, 16 writes in flight; their IDs.
 */
export async function registerChannels(emuUrl: string, registry: ChannelRegistry, count: number): Promise<string[]> {
  const channels = await createTestChannels(emuUrl, count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < channels.length) {
      const ch = channels[next++]!;
      await registry.add({ channelId: ch.channelId, kid: ch.kid, privateKey: ch.privateJwk as never, channelSecret: ch.channelSecret });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return channels.map((ch) => ch.channelId);
}

/** A store whose method calls are counted by name (every call, reads and writes). */
export interface CountingStore {
  store: Store;
  calls: Map<string, number>;
  total(): number;
  reset(): void;
}

/** Wraps a store so every method call through it is counted. */
export function countingStore(inner: Store): CountingStore {
  const calls = new Map<string, number>();
  const store = new Proxy(inner, {
    get(target, prop) {
      const value = Reflect.get(target, prop);
      if (typeof value !== "function" || typeof prop !== "string") return value;
      return (...args: unknown[]) => {
        calls.set(prop, (calls.get(prop) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return {
    store,
    calls,
    total: () => [...calls.values()].reduce((a, b) => a + b, 0),
    reset: () => calls.clear(),
  };
}

/** The largest number of issuances in one second of the emulator's clock, over the ledgers. */
export function busiestSecond(all: Map<string, LedgerRow[]>): number {
  const perSecond = new Map<number, number>();
  for (const rows of all.values()) for (const r of rows) perSecond.set(Math.floor(r.issuedAt / 1000), (perSecond.get(Math.floor(r.issuedAt / 1000)) ?? 0) + 1);
  return Math.max(0, ...perSecond.values());
}
