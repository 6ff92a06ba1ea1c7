// Shared set-up of the LINE WORKS client tests: one emulator per file with a recording proxy in
// front (to produce answers the emulator cannot), apps created through the control API, the
// service-account key as the PKCS #8 PEM the Developer Console hands out, and clients whose
// sleeps are recorded instead of waited for.
import { createPrivateKey } from "node:crypto";
import { createWorksClient, type WorksApp, type WorksAttemptInfo, type WorksClient, type WorksClientOptions } from "../../../src/clients/works/index.ts";
import { importAssertionKey, type AssertionKey } from "../../../src/core/keys/import.ts";
import { startTestEmulator, type TestEmulator } from "../../helpers/emulator.ts";
import { createWorksApp, type TestWorksApp } from "../../helpers/works-emulator.ts";
import { startProxy, type TestProxy } from "../line/proxy.ts";

/** A client with its recorded sleeps and attempts. */
export interface RecordingWorksClient {
  works: WorksClient;
  sleeps: number[];
  attempts: WorksAttemptInfo[];
}

/** Everything a LINE WORKS client test needs. */
export interface WorksFixture {
  emu: TestEmulator;
  proxy: TestProxy;
  /** A fresh app (settings as the control API takes them), as the client and the port see it. */
  newApp(settings?: Record<string, unknown>): Promise<{ test: TestWorksApp; app: WorksApp; privateKey: AssertionKey }>;
  /** A client through the proxy, random() = 0.5, sleeps recorded. */
  client(options?: WorksClientOptions): RecordingWorksClient;
  close(): Promise<void>;
}

/**
 * Starts an emulator and a proxy in front of it.
 *
 * @example
 * ```ts
 * const fx = await worksFixture();
 * after(() => fx.close());
 * ```
 */
export async function worksFixture(): Promise<WorksFixture> {
  const emu = await startTestEmulator();
  const proxy = await startProxy(emu.url);
  return {
    emu,
    proxy,
    async newApp(settings = {}) {
      const test = await createWorksApp(emu.url, settings);
      const pem = createPrivateKey({ key: test.privateJwk, format: "jwk" }).export({ type: "pkcs8", format: "pem" }) as string;
      const app: WorksApp = { clientId: test.clientId, clientSecret: test.clientSecret, serviceAccount: test.serviceAccount, privateKey: pem, scope: "bot,user.read" };
      return { test, app, privateKey: await importAssertionKey(pem) };
    },
    client(options = {}) {
      const sleeps: number[] = [];
      const attempts: WorksAttemptInfo[] = [];
      const works = createWorksClient({
        authBaseUrl: proxy.url,
        apiBaseUrl: proxy.url,
        random: () => 0.5,
        sleep: async (ms) => void sleeps.push(ms),
        onAttempt: (info) => void attempts.push(info),
        ...options,
      });
      return { works, sleeps, attempts };
    },
    async close() {
      await proxy.close();
      await emu.close();
    },
  };
}

/**
 * What a call that must fail threw (the test fails if it succeeds).
 *
 * @example
 * ```ts
 * const e = await failure(works.refreshToken(app, spent));
 * ```
 */
export async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("the call succeeded where it should have failed");
}
