// The soak's world: the store (behind a TCP proxy the harness cuts for outages, while the harness
// itself reads the store directly), the credentials at the emulator and in kagiya's registry, the
// API keys (made with `kagiya apikey create`), K `kagiya serve` processes on the emulator's clock
// (each with its own skew) and short-lived CLI workers.
import { spawn, type ChildProcess } from "node:child_process";
import type { webcrypto } from "node:crypto";
import { fileURLToPath } from "node:url";
import { openStore } from "../../src/store/open.ts";
import { ChannelRegistry } from "../../src/store/registry.ts";
import { MasterKey, Sealer, generateMasterKeyText } from "../../src/store/sealed.ts";
import type { Store } from "../../src/store/types.ts";
import { createTestChannel } from "../helpers/emulator.ts";
import { createWorksApp } from "../helpers/works-emulator.ts";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.ts";
import { DATABASE_URL, REDIS_URL, randomNamespace } from "../store/services.ts";
import type { CredentialPlan } from "./schedule.ts";
import type { SoakParams } from "./params.ts";

const BIN = fileURLToPath(new URL("../../bin/kagiya.js", import.meta.url));

/** Every kagiya process the harness started and that may still run: killed if the harness exits first. */
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once("exit", () => live.delete(child));
  return child;
}

/** The store as kagiya sees it (through the proxy) and as the harness sees it (directly). */
export interface SoakStore {
  /** Spec `kagiya serve` and the CLI workers use: through the proxy. */
  spec: string;
  /** The harness's own connection, never cut. */
  direct: Store;
  proxy: TcpProxy;
  outage: boolean;
  /** Real time (Date.now) the last outage ended. */
  restoredAt: number;
  close(): Promise<void>;
}

function throughPort(url: string, port: number): URL {
  const u = new URL(url);
  u.hostname = "127.0.0.1";
  u.port = String(port);
  return u;
}

export async function openSoakStore(kind: SoakParams["store"]): Promise<SoakStore> {
  const ns = randomNamespace("soak");
  const base = kind === "redis" ? REDIS_URL : DATABASE_URL;
  const u = new URL(base);
  const proxy = await startTcpProxy(Number(u.port || (kind === "redis" ? 6379 : 5432)), u.hostname);
  const withNs = (url: URL): string => {
    if (kind === "redis") url.searchParams.set("prefix", `${ns}:`);
    else url.searchParams.set("schema", ns);
    return url.toString();
  };
  const direct = await openStore(withNs(new URL(base)));
  const s: SoakStore = {
    spec: withNs(throughPort(base, proxy.port)),
    direct,
    proxy,
    outage: false,
    restoredAt: 0,
    close: async () => {
      await (direct as { destroy?: () => Promise<void> }).destroy?.().catch(() => {});
      await direct.close().catch(() => {});
      await proxy.close();
    },
  };
  return s;
}

/** What the harness knows of one credential once set up. */
export interface SoakCredential extends CredentialPlan {
  channelSecret: string;
  kid: string;
  privateJwk: webcrypto.JsonWebKey;
  /** Token API path on `kagiya serve`. */
  tokenPath: string;
  /** LINE WORKS: the app's client ID at the emulator. */
  clientId?: string;
}

/** The kagiya processes (serve and CLI) the harness started that still run, by pid. */
export function liveProcesses(): Map<number, ChildProcess> {
  return new Map([...live].filter((c) => c.pid !== undefined).map((c) => [c.pid!, c]));
}

/**
 * Creates each credential at the emulator and registers it in kagiya's store. OAuth grants are
 * only described here: they are added and logged in through the CLI (./oauth.ts).
 */
export async function setUpCredentials(emuUrl: string, store: Store, masterKey: string, plans: readonly CredentialPlan[]): Promise<SoakCredential[]> {
  const registry = await ChannelRegistry.open(store, new Sealer(MasterKey.parse(masterKey)));
  const out: SoakCredential[] = [];
  for (const p of plans) {
    if (p.kind === "oauth2") {
      out.push({ ...p, channelSecret: "", kid: "", privateJwk: {}, tokenPath: `/v1/grants/${p.id}/token` });
      continue;
    }
    if (p.kind === "line-works") {
      const v = p.works!;
      const app = await createWorksApp(emuUrl, { tokenLifetime: v.tokenLifetime, rotation: v.rotation });
      await registry.add({
        channelId: p.id, kind: "line-works", kid: "", privateKey: app.privateJwk as never, channelSecret: "",
        settings: { clientId: app.clientId, serviceAccount: app.serviceAccount, scope: "bot", refresh: v.refresh },
        secrets: { clientSecret: app.clientSecret },
      });
      out.push({ ...p, channelSecret: "", kid: "", privateJwk: app.privateJwk, tokenPath: `/v1/credentials/${p.id}/token`, clientId: app.clientId });
      continue;
    }
    const ch = await createTestChannel(emuUrl, { channelId: p.id });
    await registry.add({
      channelId: p.id, kind: p.kind, kid: ch.kid, privateKey: ch.privateJwk as never, channelSecret: ch.channelSecret,
      ...(p.kind === "line-v2.1" ? { policy: { lifetimeSeconds: p.lifetimeSeconds, revokeGraceSeconds: p.revokeGraceSeconds, ...(p.refreshAt ? { refreshMin: p.refreshAt[0], refreshMax: p.refreshAt[1] } : {}) } } : {}),
    });
    out.push({ ...p, channelSecret: ch.channelSecret, kid: ch.kid, privateJwk: ch.privateJwk, tokenPath: `/v1/channels/${p.id}/token` });
  }
  return out;
}

/** Runs the kagiya CLI once (a worker, or set-up like `apikey create`); resolves with its exit. */
export function runKagiya(args: string[], env: Record<string, string>, killAfterMs: number | null = null): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = track(spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] }));
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = killAfterMs === null ? null : setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    child.once("exit", (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The environment every kagiya process of the run gets. */
export function kagiyaEnv(emuUrl: string, masterKey: string, skewMs = 0): Record<string, string> {
  return {
    KAGIYA_MASTER_KEY: masterKey,
    KAGIYA_LINE_API_BASE: emuUrl,
    KAGIYA_WORKS_AUTH_BASE: emuUrl,
    KAGIYA_TEST_MODE: "1",
    KAGIYA_TEST_CLOCK_URL: `${emuUrl}/__emulator/clock`,
    KAGIYA_TEST_CLOCK_SKEW_MS: String(skewMs),
    KAGIYA_RATE_LIMIT: "100000",
    KAGIYA_LOG_LEVEL: "info",
  };
}

/** Log lines of interest, counted by message. */
export type LogCounts = Map<string, number>;

/** Log messages saying an event's handler ran and threw (the event was handled; its reply may be missing). */
const HANDLER_FAILED = new Set(["bot handler failed", "webhook event handler failed"]);

/** One `kagiya serve` slot: started, SIGKILLed and restarted by the harness. */
export class ServeInstance {
  readonly index: number;
  readonly skewMs: number;
  readonly args: string[];
  readonly env: Record<string, string>;
  child: ChildProcess | null = null;
  url: string | null = null;
  starting: Promise<void> | null = null;
  /** Tokens this process served since it started, by credential: what it holds in memory. */
  served = new Map<number, { expiresAt: number; at: number }>();
  /** Emulator time each API key was last accepted by this process. */
  keyAcceptedAt = new Map<string, number>();
  readonly logs: LogCounts;
  /** webhookEventIds whose handler ran and failed, from every instance's log. */
  readonly failedEvents: Set<string>;
  starts = 0;
  kills = 0;
  /** Exits the harness did not cause, with the end of what the process wrote on stderr. */
  readonly crashes: string[] = [];
  #expectExit = false;

  constructor(index: number, skewMs: number, args: string[], env: Record<string, string>, logs: LogCounts, failedEvents: Set<string>) {
    this.index = index;
    this.failedEvents = failedEvents;
    this.skewMs = skewMs;
    this.args = args;
    this.env = env;
    this.logs = logs;
  }

  get up(): boolean {
    return this.url !== null && this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process unless it is up; resolves once it listens (a failed start is retried after a second). */
  start(): Promise<void> {
    if (this.up) return Promise.resolve();
    this.starting ??= this.#start().finally(() => void (this.starting = null));
    return this.starting;
  }

  async #start(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#spawn();
        return;
      } catch (error) {
        if (attempt >= 5) throw error;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  #spawn(): Promise<void> {
    this.served.clear();
    this.keyAcceptedAt.clear();
    this.url = null;
    this.starts++;
    this.#expectExit = false;
    return new Promise((resolve, reject) => {
      const child = track(spawn(process.execPath, [BIN, "serve", "--port", "0", ...this.args], {
        env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", ...this.env },
        stdio: ["ignore", "pipe", "pipe"],
      }));
      this.child = child;
      let err = "";
      let partial = "";
      let done = false;
      child.stdout!.setEncoding("utf8").on("data", (d: string) => {
        const lines = (partial + d).split("\n");
        partial = lines.pop()!;
        for (const line of lines) this.#countLog(line);
      });
      child.stderr!.setEncoding("utf8").on("data", (d: string) => {
        err += d;
        const m = /listening on (http:\/\/[^\s]+)/.exec(err);
        if (m && !done) {
          done = true;
          this.url = m[1]!;
          resolve();
        }
      });
      child.once("exit", (code, signal) => {
        if (done && !this.#expectExit && this.child === child) this.crashes.push(`instance ${this.index} exited with ${code ?? signal}: ${err.slice(-400).trim()}`);
        if (!done) {
          done = true;
          reject(new Error(`kagiya serve (instance ${this.index}) exited with ${code ?? signal} before listening: ${err.slice(-500)}`));
        }
      });
    });
  }

  #countLog(line: string): void {
    let msg: string;
    let level: number;
    try {
      const o = JSON.parse(line) as { msg?: unknown; level?: unknown; webhookEventId?: unknown };
      msg = String(o.msg);
      level = typeof o.level === "number" ? o.level : 30;
      if (HANDLER_FAILED.has(msg) && typeof o.webhookEventId === "string") this.failedEvents.add(o.webhookEventId);
    } catch {
      return;
    }
    if (level < 40) return; // warnings and errors only
    this.logs.set(msg, (this.logs.get(msg) ?? 0) + 1);
  }

  /** SIGKILL; resolves once the process is gone. */
  async kill(): Promise<void> {
    await this.starting?.catch(() => {});
    const child = this.child;
    this.url = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    this.kills++;
    this.#expectExit = true;
    const gone = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await gone;
  }

  /** SIGTERM (a clean stop at the end of the run), SIGKILL after 10 s. */
  async stop(): Promise<void> {
    await this.starting?.catch(() => {});
    const child = this.child;
    this.url = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    this.#expectExit = true;
    const gone = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await gone;
    clearTimeout(timer);
  }
}

/** A fresh master key for the run. */
export function newMasterKey(): string {
  return generateMasterKeyText();
}
