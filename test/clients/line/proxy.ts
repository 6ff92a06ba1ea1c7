// A real HTTP reverse proxy put between the LINE client and the emulator. The emulator still does
// all the work (tokens land in its ledger); the proxy records what the client sent (headers and
// bytes) and can rewrite what comes back, to produce answers the emulator cannot (a 200 with a
// missing key_id, HTML, an HTTP-date Retry-After, a body that stalls after its headers).
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";

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
  /** Where requests go (may be changed while it runs). */
  target: string;
  /** Forward the client's Host header (a server that builds its URLs from it, e.g. oidc-provider, then names the proxy); default: the target's. */
  keepHost: boolean;
  requests: RecordedRequest[];
  /** Rewrites an upstream answer; return undefined to pass it through. */
  rewrite: ((req: RecordedRequest, res: ProxiedResponse) => ProxiedResponse | undefined) | undefined;
  /** Called when a request has fully arrived, before it is forwarded. */
  onRequest: ((req: RecordedRequest) => void) | undefined;
  /** Before forwarding: `"reset"` resets the client's connection, an answer is sent instead; either way upstream never sees the request. */
  refuse: ((req: RecordedRequest) => "reset" | ProxiedResponse | undefined) | undefined;
  /** Once upstream answered (after `rewrite`): resolves false to drop the answer (the client's connection is reset). May wait. */
  deliver: ((req: RecordedRequest, res: ProxiedResponse, client: Socket) => boolean | Promise<boolean>) | undefined;
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
  const state: TestProxy = { url: "", target, keepHost: false, requests: [], rewrite: undefined, onRequest: undefined, refuse: undefined, deliver: undefined, close: async () => {} };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const recorded: RecordedRequest = { method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      state.requests.push(recorded);
      state.onRequest?.(recorded);
      const refusal = state.refuse?.(recorded);
      if (refusal === "reset") return void req.socket.resetAndDestroy();
      if (refusal !== undefined) return void res.writeHead(refusal.status, { ...refusal.headers, "content-length": Buffer.byteLength(refusal.body) }).end(refusal.body);
      const upstream = new URL(state.target);
      const headers = state.keepHost ? req.headers : { ...req.headers, host: upstream.host };
      const up = httpRequest({ host: upstream.hostname, port: upstream.port, method: recorded.method, path: recorded.url, headers }, (upRes) => {
        const body: Buffer[] = [];
        upRes.on("data", (c: Buffer) => body.push(c));
        upRes.on("error", () => req.socket.destroy());
        upRes.on("end", () => {
          if (!upRes.complete) return void req.socket.destroy();
          const outHeaders: Record<string, string> = {};
          for (const [k, v] of Object.entries(upRes.headers)) if (!HOP.has(k) && k !== "set-cookie" && v !== undefined) outHeaders[k] = Array.isArray(v) ? v.join(", ") : v;
          // Cookies stay one header each (joined they would be one broken cookie).
          const cookies = upRes.headers["set-cookie"];
          let answer: ProxiedResponse = { status: upRes.statusCode ?? 502, headers: outHeaders, body: Buffer.concat(body).toString("utf8") };
          answer = state.rewrite?.(recorded, answer) ?? answer;
          void send(answer, cookies);
        });
      });
      const send = async (answer: ProxiedResponse, cookies: string[] | undefined): Promise<void> => {
        if (state.deliver && !(await Promise.resolve().then(() => state.deliver!(recorded, answer, req.socket)).catch(() => false))) return void req.socket.resetAndDestroy();
        res.sendDate = false;
        res.writeHead(answer.status, { ...answer.headers, ...(cookies ? { "set-cookie": cookies } : {}), "content-length": Buffer.byteLength(answer.body) });
        if (answer.stallBodyMs) {
          res.flushHeaders();
          const timer = setTimeout(() => res.end(answer.body), answer.stallBodyMs);
          res.on("close", () => clearTimeout(timer));
        } else res.end(answer.body);
      };
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
