// A TCP proxy that makes a real server (Redis, PostgreSQL) slow: every chunk waits `delayMs`
// (bench/slow-store.bench.ts), or waits until `release()` while held (the tests, which order
// events instead of timing them). Order is kept per direction; it counts the chunks each way.
import { connect, createServer, type Socket } from "node:net";

/** A running proxy. */
export interface SlowProxy {
  port: number;
  /** Latency added to every chunk in either direction, ms (default 0). */
  delayMs: number;
  /** Holds every chunk from now on until {@link SlowProxy.release}. */
  hold(): void;
  /** Forwards what was held (after `delayMs`) and stops holding. */
  release(): void;
  /** Chunks sent by clients towards the server so far (held ones included). */
  readonly requests: number;
  close(): Promise<void>;
}

/**
 * Starts a proxy on a free loopback port in front of `host:port`.
 *
 * @example
 * ```ts
 * const proxy = await startSlowProxy(6379);
 * proxy.hold(); // the store now answers nothing until proxy.release()
 * ```
 */
export async function startSlowProxy(port: number, host = "127.0.0.1"): Promise<SlowProxy> {
  const sockets = new Set<Socket>();
  const pipes: Array<() => void> = [];
  let held = false;
  let requests = 0;
  const proxy: SlowProxy = {
    port: 0,
    delayMs: 0,
    hold: () => void (held = true),
    release() {
      held = false;
      for (const flush of pipes) flush();
    },
    get requests() {
      return requests;
    },
    close: async () => {},
  };
  /** Forwards `from` → `to` in order, each chunk after the delay and never while held. */
  const pipe = (from: Socket, to: Socket, upstream: boolean): void => {
    const queue: Array<{ chunk: Buffer; at: number }> = [];
    let timer: NodeJS.Timeout | null = null;
    const flush = (): void => {
      if (timer !== null || held) return;
      while (queue.length > 0) {
        const wait = queue[0]!.at - Date.now();
        if (wait > 0) {
          timer = setTimeout(() => {
            timer = null;
            flush();
          }, wait);
          return;
        }
        if (!to.destroyed) to.write(queue.shift()!.chunk);
        else queue.shift();
      }
    };
    pipes.push(flush);
    from.on("data", (chunk: Buffer) => {
      if (upstream) requests++;
      queue.push({ chunk, at: Date.now() + proxy.delayMs });
      flush();
    });
    from.on("error", () => to.destroy());
    from.on("close", () => {
      sockets.delete(from);
      to.destroy();
    });
  };
  const server = createServer((client) => {
    const up = connect(port, host);
    sockets.add(client).add(up);
    pipe(client, up, true);
    pipe(up, client, false);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  proxy.port = (server.address() as { port: number }).port;
  proxy.close = () => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  };
  return proxy;
}
