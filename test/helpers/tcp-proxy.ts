// A TCP proxy a test can cut: put between kagiya and a real server (PostgreSQL, Redis) to make
// that server vanish and return without stopping it, e.g. for other clients of the same database.
import { connect, createServer, type Socket } from "node:net";

/** A running proxy. */
export interface TcpProxy {
  /** The loopback port clients connect to. */
  port: number;
  /** Resets every open connection and every new one until {@link TcpProxy.restore}. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/**
 * Starts a proxy on a free loopback port forwarding to `host:port`.
 *
 * @example
 * ```ts
 * const proxy = await startTcpProxy(5432);
 * const url = `postgres://postgres@127.0.0.1:${proxy.port}/test`;
 * proxy.cut(); // the database is gone for anyone using url
 * ```
 */
export async function startTcpProxy(port: number, host = "127.0.0.1"): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let cut = false;
  const server = createServer((client) => {
    if (cut) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(port, host);
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      open.add(a);
      a.on("error", () => b.destroy());
      a.on("close", () => {
        open.delete(a);
        b.destroy();
      });
      a.pipe(b);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    cut() {
      cut = true;
      for (const s of open) {
        if (s.connecting) s.destroy();
        else s.resetAndDestroy();
      }
    },
    restore() {
      cut = false;
    },
    close() {
      for (const s of open) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
