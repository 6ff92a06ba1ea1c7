// Shared by the load benchmarks: the Node fallback loader (when wrk is not installed) and small
// process helpers. Not a benchmark itself (no .bench.ts suffix).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { availableParallelism } from "node:os";

export interface LoadResult {
  requests: number;
  seconds: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  /** Answers other than 200. */
  errors: number;
  /** Server CPU microseconds per request (user + system), when known: see {@link withServerCpu}. */
  cpuUs?: number | null;
}

/** Runs a load and adds the server process's CPU cost per request (from /proc, Linux). */
export async function withServerCpu(pid: number | undefined, run: () => Promise<LoadResult>): Promise<LoadResult> {
  const before = pid === undefined ? null : cpuSeconds(pid);
  const r = await run();
  const after = pid === undefined ? null : cpuSeconds(pid);
  return { ...r, cpuUs: before !== null && after !== null && r.requests > 0 ? ((after - before) * 1e6) / r.requests : null };
}

/** "12.3" or "-" when unknown. */
export const fmtCpu = (us: number | null): string => (us === null ? "-" : us.toFixed(1));

/** The median of the known CPU figures of some runs, or null. */
export function medianCpu(runs: readonly LoadResult[]): number | null {
  const xs = runs.map((r) => r.cpuUs).filter((x): x is number => typeof x === "number");
  return xs.length === 0 ? null : median(xs);
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

/** Server and loader on different cores when taskset and two cores are there. */
export const pin = hasCommand("taskset") && availableParallelism() >= 2;

/** `argv` prefixed with `taskset -c core` when pinning is possible, as [command, args]. */
export function pinned(core: number, argv: string[]): [string, string[]] {
  return pin ? ["taskset", ["-c", String(core), ...argv]] : [argv[0]!, argv.slice(1)];
}

/** Runs `argv` pinned to `core` and resolves with its standard output; rejects on a non-zero exit. */
export function runPinned(core: number, argv: string[]): Promise<string> {
  const [cmd, args] = pinned(core, argv);
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`${argv[0]} exited with ${code}`))));
  });
}

/**
 * Starts `node self --serve variant` pinned to core 0 (NODE_ENV=production). The child prints
 * `{"port":…}` once listening and `{"handled":…}` when it gets SIGTERM; `handled()` reads that.
 */
export function spawnBenchServer(self: string, variant: string): Promise<{ child: ChildProcess; port: number; handled: () => number }> {
  const [cmd, args] = pinned(0, [process.execPath, self, "--serve", variant]);
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, NODE_ENV: "production" } });
  return new Promise((resolve, reject) => {
    let out = "";
    let started = false;
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (!started && out.includes("\n")) {
        started = true;
        resolve({ child, port: JSON.parse(out.split("\n")[0]!).port, handled: () => JSON.parse(out.trim().split("\n").pop()!).handled ?? 0 });
      }
    });
    child.on("exit", (code) => {
      if (!started) reject(new Error(`server ${variant} exited with ${code}`));
    });
  });
}

/** The median of a list of numbers. */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * CPU seconds (user + system) a process has used so far, from /proc (Linux); null elsewhere.
 * Read before and after a run, it gives the server's CPU cost per request, which shifts far less
 * than requests/s when other work shares the machine.
 */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start at state; utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK). */
const CLOCK_TICKS = 100;
