// A real HTTP reverse proxy put between the LINE client and the emulator. The emulator still does
// all the work (tokens land in its ledger); the proxy records what the client sent (headers and
// bytes) and can rewrite what comes back, to produce answers the emulator cannot (a 200 with a
// missing key_id, HTML, an HTTP-date Retry-After, a body that stalls after its headers).
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One request as the client sent it. */
export interface RecordedRequest {
  method: string;
  /** Path and query. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** The upstream answer, which `rewrite` may change. */
export interface ProxiedResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Wait this long after sending the headers before the body (to trip a total timeout). */
  stallBodyMs?: number;
}

/** A running proxy. */
export interface TestProxy {
  url: string;
  requests: RecordedRequest[];
  /** Rewrites an upstream answer; return undefined to pass it through. */
  rewrite: ((req: RecordedRequest, res: ProxiedResponse) => ProxiedResponse | undefined) | undefined;
  /** Called when a request has fully arrived, before it is forwarded. */
  onRequest: ((req: RecordedRequest) => void) | undefined;
  close(): Promise<void>;
}

const HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"]);

/**
 * Starts a proxy on a free loopback port forwarding to `target` (the emulator's URL).
 *
 * @example
 * ```ts
 * const proxy = await startProxy(emu.url);
 * proxy.rewrite = (req, res) => ({ ...res, body: "<html>oops</html>" });
 * ```
 */
export async function startProxy(target: string): Promise<TestProxy> {
  const upstream = new URL(target);
  const state: TestProxy = { url: "", requests: [], rewrite: undefined, onRequest: undefined, close: async () => {} };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const recorded: RecordedRequest = { method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      state.requests.push(recorded);
      state.onRequest?.(recorded);
      const headers = { ...req.headers, host: upstream.host };
      const up = httpRequest({ host: upstream.hostname, port: upstream.port, method: recorded.method, path: recorded.url, headers }, (upRes) => {
        const body: Buffer[] = [];
        upRes.on("data", (c: Buffer) => body.push(c));
        upRes.on("error", () => req.socket.destroy());
        upRes.on("end", () => {
          if (!upRes.complete) return void req.socket.destroy();
          const outHeaders: Record<string, string> = {};
          for (const [k, v] of Object.entries(upRes.headers)) if (!HOP.has(k) && v !== undefined) outHeaders[k] = Array.isArray(v) ? v.join(", ") : v;
          let answer: ProxiedResponse = { status: upRes.statusCode ?? 502, headers: outHeaders, body: Buffer.concat(body).toString("utf8") };
          answer = state.rewrite?.(recorded, answer) ?? answer;
          res.sendDate = false;
          res.writeHead(answer.status, { ...answer.headers, "content-length": Buffer.byteLength(answer.body) });
          if (answer.stallBodyMs) {
            res.flushHeaders();
            const timer = setTimeout(() => res.end(answer.body), answer.stallBodyMs);
            res.on("close", () => clearTimeout(timer));
          } else res.end(answer.body);
        });
      });
      // The emulator reset or cut the connection: do the same to the client.
      up.on("error", () => req.socket.resetAndDestroy());
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return state;
}
