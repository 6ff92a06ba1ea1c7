// Private servers for the fault tests: a Redis master + replica + sentinels, and a PostgreSQL
// instance, each on free loopback ports in a temporary directory, so a test can fail over, kill
// or restart them without touching the shared Redis (6379) and PostgreSQL (5432) other tests use.
// A missing binary skips the test with a loud notice, unless KAGIYA_REQUIRE_SERVICES=1 (CI).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";

/** Why a fault test cannot run here, printed loudly; under KAGIYA_REQUIRE_SERVICES=1 a failure instead. */
export function skipLoudly(what: string, why: string): string {
  const line = "*".repeat(78);
  if (process.env["KAGIYA_REQUIRE_SERVICES"] === "1") throw new Error(`${what}: ${why} (KAGIYA_REQUIRE_SERVICES=1)`);
  console.error(`\n${line}\n*** SKIPPING ${what}: ${why}\n*** (set KAGIYA_REQUIRE_SERVICES=1 to make this a failure)\n${line}\n`);
  return why;
}

/** A free loopback TCP port (asked of the kernel, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function which(cmd: string): string | null {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------
// Redis master + replica + sentinels

/** A private Redis master/replica pair watched by sentinels. */
export interface SentinelCluster {
  masterName: string;
  /** Ports of the two data nodes ([initial master, initial replica]) and of the sentinels. */
  dataPorts: [number, number];
  sentinelPorts: number[];
  /** The `redis+sentinel://` store spec (add `?prefix=`). */
  spec: string;
  /** The port the sentinels name as master now. */
  masterPort(): Promise<number>;
  /** A plain client of one data node (closed with the cluster). */
  node(port: number): Redis;
  /** Waits until the replica has every write the master has. */
  waitInSync(): Promise<void>;
  /** `SENTINEL FAILOVER`, then waits until the sentinels name the other node and it is a writable master. */
  failover(): Promise<number>;
  /** SIGKILLs the data node on `port`. */
  kill(port: number): void;
  /** How long the sentinels wait before judging the master down (`SENTINEL SET … down-after-milliseconds`). */
  setDownAfter(ms: number): Promise<void>;
  close(): Promise<void>;
}

/** Why the Sentinel tests cannot run here, or false. */
export function sentinelSkip(): string | false {
  return which("redis-server") === null ? skipLoudly("the Redis Sentinel fault tests", "redis-server is not installed") : false;
}

/** Starts a master, a replica and `sentinels` sentinels (quorum 1) in a temporary directory. */
export async function startSentinelCluster(options: { sentinels?: number; masterName?: string; downAfterMs?: number } = {}): Promise<SentinelCluster> {
  const dir = mkdtempSync(join(tmpdir(), "kagiya-sentinel-"));
  const masterName = options.masterName ?? "kmaster";
  const procs = new Map<number, ChildProcess>();
  const clients: Redis[] = [];
  const start = (port: number, args: string[]): void => {
    const child = spawn("redis-server", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    child.stderr!.resume();
    procs.set(port, child);
  };
  const dataPorts: [number, number] = [await freePort(), await freePort()];
  const common = (port: number) => ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--logfile", join(dir, `${port}.log`), "--protected-mode", "no"];
  start(dataPorts[0], common(dataPorts[0]));
  start(dataPorts[1], [...common(dataPorts[1]), "--replicaof", "127.0.0.1", String(dataPorts[0])]);
  const sentinelPorts: number[] = [];
  for (let i = 0; i < (options.sentinels ?? 2); i++) {
    const port = await freePort();
    const conf = join(dir, `sentinel-${port}.conf`);
    writeFileSync(conf, [
      `port ${port}`,
      "bind 127.0.0.1",
      "protected-mode no",
      `dir ${dir}`,
      `logfile ${join(dir, `sentinel-${port}.log`)}`,
      `sentinel monitor ${masterName} 127.0.0.1 ${dataPorts[0]} 1`,
      `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 1000}`,
      // Also how soon a sentinel may fail the same master over again (twice this): kept short for the tests.
      `sentinel failover-timeout ${masterName} 3000`,
      `sentinel parallel-syncs ${masterName} 1`,
      "",
    ].join("\n"));
    start(port, [conf, "--sentinel"]);
    sentinelPorts.push(port);
  }
  const node = (port: number): Redis => {
    const c = new Redis({ port, host: "127.0.0.1", lazyConnect: false, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
    c.on("error", () => {});
    clients.push(c);
    return c;
  };
  const sentinels = sentinelPorts.map(node);
  const masterPort = async (): Promise<number> => Number(((await sentinels[0]!.call("SENTINEL", "get-master-addr-by-name", masterName)) as string[])[1]);
  const role = async (port: number): Promise<string> => ((await node(port).call("ROLE")) as [string])[0];
  const cluster: SentinelCluster = {
    masterName,
    dataPorts,
    sentinelPorts,
    spec: `redis+sentinel://${sentinelPorts.map((p) => `127.0.0.1:${p}`).join(",")}/${masterName}`,
    masterPort,
    node,
    async waitInSync() {
      const m = await masterPort();
      const replica = dataPorts.find((p) => p !== m)!;
      const offset = (info: string, field: string) => Number(new RegExp(`${field}:(\\d+)`).exec(info)?.[1] ?? -1);
      await until("the replica to catch up", async () => {
        const mo = offset(await node(m).info("replication"), "master_repl_offset");
        const ri = await node(replica).info("replication");
        return /master_link_status:up/.test(ri) && offset(ri, "slave_repl_offset") >= mo;
      });
    },
    async failover() {
      const before = await masterPort();
      await sentinels[0]!.call("SENTINEL", "FAILOVER", masterName);
      const after = await until("the sentinels to name a new master", async () => {
        const ports = await Promise.all(sentinels.map(async (s) => Number(((await s.call("SENTINEL", "get-master-addr-by-name", masterName)) as string[])[1])));
        return ports.every((p) => p !== before && p === ports[0]) ? ports[0] : undefined;
      });
      await until("the new master to take writes", async () => (await role(after!)) === "master");
      return after!;
    },
    kill(port) {
      procs.get(port)?.kill("SIGKILL");
    },
    async setDownAfter(ms) {
      for (const s of sentinels) await s.call("SENTINEL", "SET", masterName, "down-after-milliseconds", String(ms));
    },
    async close() {
      for (const c of clients) c.disconnect();
      await Promise.all([...procs.values()].map((p) => (p.exitCode !== null || p.signalCode !== null ? null : new Promise((r) => {
        p.once("exit", r);
        p.kill("SIGKILL");
      }))));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    // Ready: the replica synced, and every sentinel knows the replica (it can only fail over to a node it knows).
    await until("the replica to sync", async () => /master_link_status:up/.test(await node(dataPorts[1]).info("replication")));
    await until("the sentinels to find the replica", async () => {
      for (const s of sentinels) {
        const replicas = (await s.call("SENTINEL", "REPLICAS", masterName)) as string[][];
        const ok = replicas.some((r) => {
          const h = Object.fromEntries(r.flatMap((v, i) => (i % 2 === 0 ? [[v, r[i + 1]]] : [])));
          return h["port"] === String(dataPorts[1]) && !String(h["flags"]).includes("down") && h["master-link-status"] === "ok";
        });
        if (!ok) return false;
      }
      return true;
    });
  } catch (error) {
    await cluster.close();
    throw error;
  }
  return cluster;
}

// ---------------------------------------------------------------------------------------------
// A private PostgreSQL instance

/** A private PostgreSQL server that a test may stop and start. */
export interface PrivatePostgres {
  port: number;
  /** `postgres://postgres@127.0.0.1:PORT/postgres` (add `?schema=`). */
  url: string;
  /**
   * `pg_ctl stop -m immediate` (the server dies without a checkpoint: what a crash does to
   * clients), or `-m fast` (sessions are told 57P01 "terminating connection due to administrator command").
   */
  stop(mode?: "immediate" | "fast"): void;
  start(): void;
  close(): Promise<void>;
}

/** The directory of PostgreSQL's server binaries (initdb, pg_ctl), or null. */
export function postgresBin(): string | null {
  const base = "/usr/lib/postgresql";
  if (existsSync(base)) {
    const versions = readdirSync(base).filter((v) => existsSync(join(base, v, "bin", "pg_ctl"))).sort((a, b) => Number(b) - Number(a));
    if (versions.length > 0) return join(base, versions[0]!, "bin");
  }
  const initdb = which("initdb");
  return initdb === null ? null : join(initdb, "..");
}

/** Why the PostgreSQL restart tests cannot run here, or false. */
export function privatePostgresSkip(): string | false {
  return postgresBin() === null ? skipLoudly("the PostgreSQL restart fault tests", "PostgreSQL's server binaries (initdb, pg_ctl) are not installed") : false;
}

/**
 * initdb + pg_ctl start on a free port (trust auth, fsync off: the test restarts it, it does not
 * need durability across power loss). PostgreSQL refuses to run as root, so as root the data
 * directory belongs to the `postgres` user and the commands run through runuser.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBin();
  if (bin === null) throw new Error("PostgreSQL's server binaries are not installed");
  const dir = mkdtempSync(join(tmpdir(), "kagiya-pg-"));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(spawnSync("id", ["-u", "postgres"], { encoding: "utf8" }).stdout.trim());
    const gid = Number(spawnSync("id", ["-g", "postgres"], { encoding: "utf8" }).stdout.trim());
    chownSync(dir, uid, gid);
  }
  const run = (cmd: string, args: string[]): void => {
    const argv = asRoot ? ["runuser", "-u", "postgres", "--", join(bin, cmd), ...args] : [join(bin, cmd), ...args];
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", cwd: dir, timeout: 60_000 });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${(r.stderr || r.stdout || String(r.error)).trim().split("\n").slice(-3).join(" | ")}`);
  };
  const data = join(dir, "data");
  run("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
  const port = await freePort();
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  const start = (): void => run("pg_ctl", ["-D", data, "-o", opts, "-l", join(dir, "log"), "-w", "-t", "30", "start"]);
  start();
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: (mode = "immediate") => run("pg_ctl", ["-D", data, "-m", mode, "-w", "stop"]),
    start,
    async close() {
      try {
        run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
