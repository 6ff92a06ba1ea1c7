// Shared set-up of the LINE client tests: one emulator per test file, a channel with a registered
// key, the key imported once, and clients whose sleeps are recorded instead of waited for.
import { createLineClient, type LineAttemptInfo, type LineClient, type LineClientOptions } from "../../../src/clients/line/index.ts";
import type { LineAssertionCredentials } from "../../../src/clients/line/assertion.ts";
import { importAssertionKey } from "../../../src/core/keys/import.ts";
import { clearFaults, createTestChannel, startTestEmulator, type TestChannel, type TestEmulator } from "../../helpers/emulator.ts";
import { startProxy, type TestProxy } from "./proxy.ts";

/** A client with its recorded sleeps and attempts. */
export interface RecordingClient {
  line: LineClient;
  /** Every sleep the client asked for, ms, in order. */
  sleeps: number[];
  attempts: LineAttemptInfo[];
}

/** Everything a LINE client test needs. */
export interface LineFixture {
  emu: TestEmulator;
  channel: TestChannel;
  creds: LineAssertionCredentials;
  /** A client pointed at the emulator (or `options.baseUrl`), random() = 0.5, sleeps recorded. */
  client(options?: LineClientOptions): RecordingClient;
  /** A fresh channel with the same key registered. */
  newChannel(): Promise<{ channel: TestChannel; creds: LineAssertionCredentials }>;
}

/**
 * Starts an emulator and creates one channel.
 *
 * @example
 * ```ts
 * const fx = await lineFixture();
 * after(() => fx.emu.close());
 * const { line, sleeps } = fx.client();
 * ```
 */
export async function lineFixture(): Promise<LineFixture> {
  const emu = await startTestEmulator();
  const newChannel = async (): Promise<{ channel: TestChannel; creds: LineAssertionCredentials }> => {
    const channel = await createTestChannel(emu.url);
    const privateKey = await importAssertionKey({ ...channel.privateJwk, alg: "RS256", use: "sig" } as Record<string, unknown>);
    return { channel, creds: { channelId: channel.channelId, kid: channel.kid, privateKey } };
  };
  const { channel, creds } = await newChannel();
  return {
    emu,
    channel,
    creds,
    newChannel,
    client(options: LineClientOptions = {}): RecordingClient {
      const sleeps: number[] = [];
      const attempts: LineAttemptInfo[] = [];
      const line = createLineClient({
        baseUrl: emu.url,
        random: () => 0.5,
        sleep: async (ms) => void sleeps.push(ms),
        onAttempt: (info) => void attempts.push(info),
        ...options,
      });
      return { line, sleeps, attempts };
    },
  };
}

/**
 * A fixture with a recording proxy (proxy.ts) in front of its emulator.
 *
 * @example
 * ```ts
 * before(async () => ({ fx, proxy } = await proxiedLineFixture()));
 * after(() => closeProxiedLineFixture(fx, proxy));
 * afterEach(() => resetProxiedLineFixture(fx, proxy));
 * ```
 */
export async function proxiedLineFixture(): Promise<{ fx: LineFixture; proxy: TestProxy }> {
  const fx = await lineFixture();
  return { fx, proxy: await startProxy(fx.emu.url) };
}

/** Closes the proxy, then the emulator. */
export async function closeProxiedLineFixture(fx: LineFixture, proxy: TestProxy): Promise<void> {
  await proxy.close();
  await fx.emu.close();
}

/** Between tests: drops the proxy's rewrite and onRequest hooks and clears the emulator's faults. */
export async function resetProxiedLineFixture(fx: LineFixture, proxy: TestProxy): Promise<void> {
  proxy.rewrite = undefined;
  proxy.onRequest = undefined;
  await clearFaults(fx.emu.url);
}

/** Awaits a promise that must reject; returns the rejection. */
export async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected the call to fail, it succeeded");
}
