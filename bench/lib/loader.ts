// Shared by the load benchmarks: the Node fallback loader (when wrk is not installed) and small
// process helpers. Not a benchmark itself (no .bench.ts suffix).
import { spawnSync } from "node:child_process";
import { connect } from "node:net";

export interface LoadResult {
  requests: number;
  seconds: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  /** Answers other than 200. */
  errors: number;
}

/**
 * Raw-socket keep-alive loader: `connections` sockets, one request in flight on each, like wrk.
 * `payloads` are complete HTTP/1.1 requests, sent in turn (cycling), so a benchmark can make
 * every request distinct. Understands Content-Length and chunked answers.
 */
export async function rawSocketLoad(port: number, payloads: readonly Buffer[], connections: number, seconds: number): Promise<LoadResult> {
  let latencies = new Float64Array(1 << 20);
  let count = 0;
  let errors = 0;
  let next = 0;
  const started = performance.now();
  const stopAt = started + seconds * 1000;
  await Promise.all(Array.from({ length: connections }, () => new Promise<void>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    socket.setNoDelay(true);
    let pending: Buffer = Buffer.alloc(0);
    let sentAt = 0;
    const fire = (): void => {
      if (performance.now() >= stopAt) {
        socket.end();
        return resolve();
      }
      sentAt = performance.now();
      socket.write(payloads[next++ % payloads.length]!);
    };
    socket.on("connect", fire);
    socket.on("error", reject);
    socket.on("data", (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      for (;;) {
        const end = pending.indexOf("\r\n\r\n");
        if (end === -1) return;
        const head = pending.subarray(0, end).toString("latin1");
        let total: number;
        const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
        if (cl) total = end + 4 + Number(cl[1]);
        else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
          const term = pending.indexOf("\r\n0\r\n\r\n", end);
          if (term === -1) return;
          total = term + 7;
        } else total = end + 4;
        if (pending.length < total) return;
        if (!head.startsWith("HTTP/1.1 200")) errors++;
        if (count === latencies.length) {
          const bigger = new Float64Array(latencies.length * 2);
          bigger.set(latencies);
          latencies = bigger;
        }
        latencies[count++] = performance.now() - sentAt;
        pending = pending.subarray(total);
        fire();
      }
    });
  })));
  const elapsed = (performance.now() - started) / 1000;
  const sorted = latencies.subarray(0, count).sort();
  return { requests: count, seconds: elapsed, p50: sorted[Math.floor(count * 0.5)] ?? 0, p99: sorted[Math.floor(count * 0.99)] ?? 0, errors };
}

/** Whether a command is on PATH. */
export function hasCommand(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}
