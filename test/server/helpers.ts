// Test helpers for the server: an emulator, a registry over a store, channels registered in
// both, and the broker started in-process on a free port, logging into a buffer.
import { Writable } from "node:stream";
import { MemoryStore } from "../../src/store/memory.ts";
import { ChannelRegistry } from "../../src/store/registry.ts";
import { MasterKey, Sealer, generateMasterKeyText } from "../../src/store/sealed.ts";
import type { Store, TokenPolicyOverrides } from "../../src/store/types.ts";
import { startBroker, type BrokerOptions, type RunningBroker } from "../../src/server/broker.ts";
import { createApiKey } from "../../src/server/apikeys.ts";
import { createTestChannel, startTestEmulator, type TestChannel, type TestEmulator } from "../helpers/emulator.ts";

/** Everything a server test needs. */
export interface TestBroker {
  emu: TestEmulator;
  broker: RunningBroker;
  url: string;
  store: Store;
  registry: ChannelRegistry;
  channels: TestChannel[];
  /** Every JSON log line the server wrote. */
  logs: string[];
  masterKey: string;
  close(): Promise<void>;
}

/**
 * Starts an emulator, registers `channels` test channels (default 1) in a fresh registry and
 * starts the broker against them.
 */
export async function startTestBroker(options: {
  store?: Store;
  channels?: number;
  policy?: TokenPolicyOverrides;
  server?: Partial<BrokerOptions>;
  emu?: TestEmulator;
} = {}): Promise<TestBroker> {
  const emu = options.emu ?? (await startTestEmulator());
  const store = options.store ?? new MemoryStore();
  await store.migrate();
  const masterKey = generateMasterKeyText();
  const registry = await ChannelRegistry.open(store, new Sealer(MasterKey.parse(masterKey)));
  const channels: TestChannel[] = [];
  for (let i = 0; i < (options.channels ?? 1); i++) {
    const ch = await createTestChannel(emu.url);
    await registry.add({ channelId: ch.channelId, kid: ch.kid, privateKey: ch.privateJwk as never, channelSecret: ch.channelSecret, ...(options.policy ? { policy: options.policy } : {}) });
    channels.push(ch);
  }
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString("utf8").split("\n")) if (line) logs.push(line);
      cb();
    },
  });
  const broker = await startBroker({
    registry,
    lineApiBase: emu.url,
    log: { level: "debug", destination },
    scheduler: false,
    ...options.server,
  });
  return {
    emu, broker, url: broker.url, store, registry, channels, logs, masterKey,
    async close() {
      await broker.close();
      if (!options.emu) await emu.close();
      await store.close();
    },
  };
}

/** Creates an API key directly in the store (as `kagiya apikey create` does). */
export async function testApiKey(store: Store, channels: string[]): Promise<{ id: string; key: string }> {
  const { id, key } = await createApiKey(store, { channels, name: "test" });
  return { id, key };
}

/** GET/POST JSON with optional headers; returns status, headers and the parsed body. */
export async function request(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: any; text: string }> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, body, text };
}

/** Logs in to the dashboard API with an admin token: the session cookie and its CSRF token. */
export async function dashboardLogin(url: string, token: string): Promise<{ cookie: string; csrf: string }> {
  const r = await request(`${url}/ui/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token }) });
  if (r.status !== 200) throw new Error(`dashboard login answered ${r.status}: ${r.text}`);
  return { cookie: r.headers.get("set-cookie")!.split(";")[0]!, csrf: r.body.csrfToken };
}
