// A real kagiya stack for the webhook tests: the emulator over HTTP, a memory store with a
// sealed channel registry, the TokenManager and the LINE client (not a test file itself).
import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyInstance } from "fastify";
import { createFastifyWebhookPlugin, type FastifyWebhookOptions } from "../../src/webhook/adapters/fastify.ts";
import { startTestEmulator, createTestChannel, type TestChannel, type TestEmulator } from "../helpers/emulator.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { ChannelRegistry } from "../../src/store/registry.ts";
import { generateMasterKeyText, MasterKey, Sealer } from "../../src/store/sealed.ts";
import { TokenManager } from "../../src/tokens/manager.ts";
import { lineTokenApi } from "../../src/tokens/line.ts";
import { createLineClient, type LineClient } from "../../src/clients/line/index.ts";

export interface Stack {
  emu: TestEmulator;
  store: MemoryStore;
  registry: ChannelRegistry;
  manager: TokenManager;
  line: LineClient;
  /** Registers a new emulator channel with kagiya. */
  channel(): Promise<TestChannel>;
  /** `secretFor` backed by the registry (sealed at rest). */
  secretFor(channelId: string): Promise<string | null>;
  close(): Promise<void>;
}

export async function startStack(): Promise<Stack> {
  const emu = await startTestEmulator();
  const store = new MemoryStore();
  await store.migrate();
  const registry = await ChannelRegistry.open(store, new Sealer(MasterKey.parse(generateMasterKeyText())));
  const manager = new TokenManager({ registry, line: lineTokenApi({ baseUrl: emu.url }) });
  const line = createLineClient({ baseUrl: emu.url, retry: { baseMs: 1, capMs: 5 } });
  return {
    emu,
    store,
    registry,
    manager,
    line,
    async channel() {
      const ch = await createTestChannel(emu.url);
      await registry.add({ channelId: ch.channelId, kid: ch.kid, privateKey: ch.privateJwk as never, channelSecret: ch.channelSecret });
      return ch;
    },
    async secretFor(channelId) {
      return (await registry.get(channelId))?.channelSecret ?? null;
    },
    async close() {
      await emu.close();
      await store.close();
    },
  };
}

/** Listens on a free loopback port; returns the base URL and a closer. */
export async function listen(listener: RequestListener | Server): Promise<{ url: string; close: () => Promise<void> }> {
  const server = typeof listener === "function" ? createServer(listener) : listener;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A Fastify app with the webhook plugin made from `options` (`routes` adds others), on a free loopback port. */
export async function listenFastify(options: FastifyWebhookOptions, routes?: (app: FastifyInstance) => void): Promise<{ url: string; drain: () => Promise<void>; close: () => Promise<void> }> {
  const app = Fastify();
  const plugin = createFastifyWebhookPlugin(options);
  await app.register(plugin);
  routes?.(app);
  await app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = app.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, drain: () => plugin.drain(), close: () => app.close() };
}
