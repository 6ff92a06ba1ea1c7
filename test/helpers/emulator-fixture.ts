// Set-ups several test files share on top of helpers/emulator.ts: an emulator with one channel,
// an emulator with a temporary directory, and a real webhook receiver.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestChannel, startTestEmulator, type TestChannel, type TestEmulator } from "./emulator.ts";

/** Starts an emulator and creates one channel on it; close with `emu.close()`. */
export async function startEmulatorWithChannel(): Promise<{ emu: TestEmulator; ch: TestChannel }> {
  const emu = await startTestEmulator();
  return { emu, ch: await createTestChannel(emu.url) };
}

/** Starts an emulator and makes a fresh directory under the OS temp dir; `cleanup` closes the one and removes the other. */
export async function startEmulatorWithTempDir(prefix: string): Promise<{ emu: TestEmulator; dir: string; cleanup: () => Promise<void> }> {
  const emu = await startTestEmulator();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    emu,
    dir,
    cleanup: async () => {
      await emu.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A webhook receiver on a free loopback port. */
export interface WebhookReceiver {
  /** `http://127.0.0.1:PORT` + the path given. */
  url: string;
  /** Every request, in order, with its headers and raw body. */
  received: Array<{ headers: IncomingHttpHeaders; body: string }>;
  close(): Promise<void>;
}

/** Starts a receiver that records each request and answers 200 "OK". */
export async function startWebhookReceiver(path = "/"): Promise<WebhookReceiver> {
  const received: WebhookReceiver["received"] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(200).end("OK");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
