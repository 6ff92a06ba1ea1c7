// The loopback redirect of `kagiya oauth login` (RFC 8252 §7.3): listens once on
// http://127.0.0.1:PORT/PATH, answers the browser with a short page, hands the callback URL back,
// and closes. Nothing but the one path is answered; nothing received is logged.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { InvalidInputError, KagiyaError } from "../core/errors.ts";

/** No callback arrived in time: exit 1 (the login may be retried as is). */
export class LoginTimeoutError extends KagiyaError {
  constructor(seconds: number) {
    super("ERR_OAUTH_LOGIN_TIMEOUT", `no login arrived within ${seconds} s (run kagiya oauth login again, or use --manual to paste the redirect URL)`);
  }
}

/** A listener waiting for one callback. */
export interface LoopbackListener {
  /** The redirect URI to register in the authorization request (with the real port). */
  redirectUri: string;
  /** Resolves with the full callback URL the browser was sent to; rejects on timeout. */
  callback: Promise<string>;
  close(): Promise<void>;
}

const PAGE = (ok: boolean) => `<!doctype html><meta charset="utf-8"><title>kagiya</title><p>${ok ? "Login received: you may close this window and return to the terminal." : "Not found."}</p>`;

/**
 * Starts the listener on `host:port` (port 0: a free one) for `path`; `timeoutMs` after it starts
 * listening without a callback, `callback` rejects with {@link LoginTimeoutError}. `redirectHost`
 * is the host written in the redirect URI when it differs from `host` (a registered `localhost`).
 */
export async function listenForCallback(options: { host: string; port: number; path: string; timeoutMs: number; redirectHost?: string }): Promise<LoopbackListener> {
  let settle!: { resolve: (url: string) => void; reject: (e: unknown) => void };
  const callback = new Promise<string>((resolve, reject) => (settle = { resolve, reject }));
  // Rejections are consumed by whoever awaits `callback`; never an unhandled rejection before that.
  callback.catch(() => {});
  let done = false;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", `http://${options.host.includes(":") ? `[${options.host}]` : options.host}`);
    if (req.method !== "GET" || url.pathname !== options.path || done) {
      res.writeHead(404, { "content-type": "text/html; charset=utf-8" }).end(PAGE(false));
      return;
    }
    done = true;
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", connection: "close" }).end(PAGE(true));
    settle.resolve(`${redirectBase}${url.search}`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => reject(new InvalidInputError(error.code === "EADDRINUSE" ? `port ${options.port} on ${options.host} is in use (choose another with --port, or leave it out for a free one)` : `cannot listen on ${options.host}:${options.port}: ${error.code ?? error.message}`)));
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  // A registered `localhost` redirect keeps its name (the provider compares strings); we listen on 127.0.0.1 all the same.
  const shownHost = options.redirectHost ?? (options.host.includes(":") ? `[${options.host}]` : options.host);
  const redirectBase = `http://${shownHost}:${port}${options.path}`;
  const timer = setTimeout(() => {
    done = true;
    settle.reject(new LoginTimeoutError(Math.round(options.timeoutMs / 1000)));
  }, options.timeoutMs);
  timer.unref();
  return {
    redirectUri: redirectBase,
    callback,
    close: () => new Promise<void>((resolve) => {
      clearTimeout(timer);
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
