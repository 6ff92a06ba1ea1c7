// Shared setup of the token tests: an emulator over real HTTP, a store, a registry with a fresh
// master key, one registered channel, and a clock that moves together with the emulator's.
import { after } from "node:test";
import { createTestChannel, emulatorJson, startTestEmulator, type TestChannel, type TestEmulator } from "../helpers/emulator.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { ChannelRegistry } from "../../src/store/registry.ts";
import { generateMasterKeyText, MasterKey, Sealer } from "../../src/store/sealed.ts";
import type { Store, TokenPolicyOverrides } from "../../src/store/types.ts";
import { TokenManager, type TokenManagerOptions } from "../../src/tokens/manager.ts";
import type { TokenObserver } from "../../src/tokens/types.ts";
import { lineTokenApi, type LineTokenApiOptions } from "../../src/tokens/line.ts";
import type { Backend } from "./backends.ts";
import { TestClock } from "./clock.ts";

export { TestClock };

export interface TokenWorld {
  emu: TestEmulator;
  clock: TestClock;
  store: Store;
  masterKey: string;
  registry: ChannelRegistry;
  channel: TestChannel;
  /** A manager on this world's store and clock; options override. */
  manager(options?: Omit<Partial<TokenManagerOptions>, "line"> & { line?: LineTokenApiOptions | TokenManagerOptions["line"] }): TokenManager;
  /** Opens another store on the same data (another process's view) and a registry on it. */
  reopen(): Promise<{ store: Store; registry: ChannelRegistry }>;
  /** Registers another emulator channel in the registry. */
  addChannel(policy?: TokenPolicyOverrides): Promise<TestChannel>;
}

let shared: TestEmulator | undefined;
// Registered at import (the root level), so it runs after the whole file, not after one test.
after(() => shared?.close());

/** One emulator per test file (closed after the file's tests), a fresh channel per world. */
/** One master key per test process, so worlds on the same backend share it. */
export const TEST_MASTER_KEY = generateMasterKeyText();
const opened: Store[] = [];
after(async () => {
  for (const s of opened) await s.close().catch(() => {});
});

export async function tokenWorld(options: { backend?: Backend; store?: Store; policy?: TokenPolicyOverrides; masterKey?: string } = {}): Promise<TokenWorld> {
  if (!shared) {
    shared = await startTestEmulator();
  }
  const emu = shared;
  const clock = new TestClock(emu.url);
  // Each world starts from the emulator's current clock (earlier worlds may have moved it).
  const { body } = await emulatorJson(emu.url, "GET", "/__emulator/clock");
  clock.offsetMs = Math.round((body.offsetSeconds as number) * 1000);
  const store = options.store ?? (options.backend ? await options.backend.open() : new MemoryStore());
  opened.push(store);
  await store.migrate();
  const masterKey = options.masterKey ?? TEST_MASTER_KEY;
  const registry = await ChannelRegistry.open(store, new Sealer(MasterKey.parse(masterKey)), { now: clock.now });
  const addChannel = async (policy?: TokenPolicyOverrides): Promise<TestChannel> => {
    const ch = await createTestChannel(emu.url);
    await registry.add({ channelId: ch.channelId, kid: ch.kid, privateKey: ch.privateJwk as never, channelSecret: ch.channelSecret, policy: policy ?? {} });
    return ch;
  };
  const channel = await addChannel(options.policy);
  return {
    emu, clock, store, masterKey, registry, channel, addChannel,
    async reopen() {
      const s = options.backend ? await options.backend.open() : store;
      if (s !== store) opened.push(s);
      return { store: s, registry: await ChannelRegistry.open(s, new Sealer(MasterKey.parse(masterKey)), { now: clock.now }) };
    },
    manager(o = {}) {
      const { line, ...rest } = o;
      const api = line !== undefined && "issue" in line ? line : lineTokenApi({ baseUrl: emu.url, now: clock.now, ...(line as LineTokenApiOptions | undefined) });
      return new TokenManager({ registry, line: api, now: clock.now, ...rest });
    },
  };
}

/**
 * Watches a manager's background re-checks (pass `observer` to it): `settled(n)` resolves once n
 * of them have ended in all, so a test waits for one by order, never by time.
 */
export function recheckWatch(): { observer: TokenObserver; readonly ended: number; settled(n: number): Promise<void> } {
  let ended = 0;
  const waiting: Array<{ n: number; resolve: () => void }> = [];
  return {
    observer: {
      rechecked() {
        ended++;
        for (const w of waiting.filter((x) => ended >= x.n)) {
          waiting.splice(waiting.indexOf(w), 1);
          w.resolve();
        }
      },
    },
    get ended() {
      return ended;
    },
    settled: (n) => (ended >= n ? Promise.resolve() : new Promise<void>((resolve) => waiting.push({ n, resolve }))),
  };
}
