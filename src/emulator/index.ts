/**
 * The kagiya emulator: a local LINE platform (channel access token API v2.1, stateless and
 * short-lived; Messaging API reply and push; webhook delivery; LINE WORKS' auth server, bot API
 * and signed callbacks under LINE WORKS' own paths) with a control API under
 * `/__emulator/`, an emulator-wide clock and fault injection. It never imports kagiya's clients
 * or stores, and checks assertions with node:crypto alone.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { EmulatorListenError } from "./errors.ts";
import { Faults } from "./faults.ts";
import { newRequestId } from "./ids.ts";
import { createListener } from "./server.ts";
import { EmulatorState } from "./state.ts";

export { EmulatorListenError, EmulatorStateError } from "./errors.ts";
export { lineSignature } from "./webhooks.ts";
export { worksSignature } from "./routes-works-bot.ts";

/**
 * Options of {@link startEmulator}.
 *
 * @example
 * ```ts
 * const emu = await startEmulator({ port: 8787, host: "127.0.0.1", stateFile: "emu.json" });
 * ```
 */
export interface EmulatorOptions {
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** JSON file that keeps channels, keys, tokens and the clock offset across restarts. */
  stateFile?: string;
}

/**
 * A running emulator.
 *
 * @example
 * ```ts
 * const { url, close } = await startEmulator();
 * const client = lineTokenApi({ baseUrl: url }); // any LINE client with a configurable base URL
 * await close();
 * ```
 */
export interface RunningEmulator {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`. */
  url: string;
  port: number;
  /** Stops listening, drops open connections and writes the state file (if any). */
  close: () => Promise<void>;
}

/**
 * Starts an emulator in-process. Point LINE clients' base URL at `url`.
 *
 * @example
 * ```ts
 * import { startEmulator } from "kagiya/emulator";
 * const emu = await startEmulator();
 * const res = await fetch(`${emu.url}/__emulator/channels`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
 * const { channelId, channelSecret } = await res.json();
 * await emu.close();
 * ```
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 0;
  const state = new EmulatorState(options.stateFile);
  const em = { state, faults: new Faults() };
  const server: Server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 60_000 }, createListener(em));
  // A client that sends something that is not HTTP gets a 400 and a closed socket; the server lives on.
  server.on("clientError", (_err, socket) => {
    const body = '{"message":"Bad Request"}';
    if (socket.writable) socket.end(`HTTP/1.1 400 Bad Request\r\nConnection: close\r\nDate: ${new Date(state.now()).toUTCString()}\r\nX-Line-Request-Id: ${newRequestId()}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) =>
      reject(new EmulatorListenError(`cannot listen on ${host}:${port} (${error.code ?? error.message}): pick another --port or --host`, { cause: error }));
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${address.port}`,
    port: address.port,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        state.flush();
      })),
  };
}
