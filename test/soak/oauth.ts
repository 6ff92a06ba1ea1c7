// OAuth 2.0 grants in the soak: oidc-provider (refresh-token rotation on) in a worker thread on the
// emulator's clock (./oidc-worker.ts), behind an HTTP proxy in this thread that is the witness of
// every refresh token the provider issued and every one presented to it, and that plays the
// provider faults of the schedule: connections reset and 503s before the provider sees the
// request, an answer lost after the provider rotated, and an answer held while the kagiya process
// that asked for it is SIGKILLed (the kill between a rotated answer and its store write). Grants are
// set up as a user does: `kagiya oauth add`, then `kagiya oauth login` completed headlessly.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { Worker } from "node:worker_threads";
import { mulberry32 } from "../../src/core/prng.ts";
import { startProxy, type TestProxy } from "../clients/line/proxy.ts";
import { startLogin } from "../helpers/oauth-cli.ts";
import { headlessLogin } from "../helpers/oidc.ts";
import type { EmulatorState } from "../../src/emulator/state.ts";
import type { ProviderFault } from "./schedule.ts";
import { liveProcesses, runKagiya, type ServeInstance } from "./world.ts";

/**
 * Lifetimes at the provider, seconds of the emulator's clock. Access tokens live 2 h, so kagiya
 * (refreshing at 70–80 %) rotates each grant's refresh token every one or two 1 h steps; the grant
 * and session outlive any run (365 days at most); codes, interactions and ID tokens outlive a
 * clock jump of a step (up to 6 h) that may fall between a login's steps or between an answer and
 * kagiya's check of its ID token.
 */
export const PROVIDER_TTL = { AccessToken: 7200, RefreshToken: 14 * 86400, Grant: 400 * 86400, Session: 400 * 86400, AuthorizationCode: 86400, Interaction: 86400, IdToken: 86400 };

const CLIENT_ID = "kagiya-soak";
const SCOPE = "openid profile offline_access";

/** A refresh token the provider issued (seen in its answer at the proxy). */
export interface ProviderIssue {
  token: string;
  /** The refresh token it replaced; null: from a login's code. */
  parent: string | null;
  /** Real time (Date.now) of the provider's answer. */
  realAt: number;
  /** The answer reached the client (false: the proxy lost or held it). */
  delivered: boolean;
}

/** A refresh token presented to the provider, and whether it took it. */
export interface ProviderUse {
  token: string;
  accepted: boolean;
  realAt: number;
}

/** SIGKILLs the kagiya process holding the connection from `peerPort` to `proxyPort`; says what it killed, or null. */
export type KillPeer = (peerPort: number, proxyPort: number) => Promise<string | null>;

export interface SoakOidc {
  /** The issuer kagiya registers: the proxy. */
  issuer: string;
  issued: Map<string, ProviderIssue>;
  uses: ProviderUse[];
  /** Credential of each login's first refresh token. */
  roots: Map<string, string>;
  /** Real times the proxy lost a rotated answer on purpose (a loss, as a kill is). */
  losses: number[];
  counts: { refreshes: number; faultHits: number; held: number; heldKills: string[]; lost: number; revokedGrants: number; logins: number };
  /** Provider faults now on (replaced each step; an armed `kill-held` or `lost-refresh` stays until it fires or {@link SoakOidc.disarm}). */
  setFaults(faults: readonly ProviderFault[]): void;
  /** No provider fault from now on (the calm tail, the end). */
  disarm(): void;
  /** RFC 7662 at the provider itself (not through the proxy): is this token active? */
  active(token: string): Promise<boolean>;
  /** `kagiya oauth add ID` (through the real bin). */
  add(id: string, spec: string, env: Record<string, string>): Promise<void>;
  /** `kagiya oauth login ID`, completed headlessly as `account`; resolves once it stored the grant. */
  login(id: string, spec: string, env: Record<string, string>): Promise<void>;
  /** The credential a refresh token belongs to (by its login), or undefined when unknown yet. */
  owner(token: string): string | undefined;
  /** Marks the login `token` descends from as `id`'s (read from the store after a login). */
  claim(id: string, token: string): void;
  close(): Promise<void>;
}

/** The process (by pid) holding the loopback TCP connection from `localPort` to `remotePort`, among `pids`. */
export function pidOfConnection(localPort: number, remotePort: number, pids: readonly number[]): number | undefined {
  const hex = (p: number) => p.toString(16).toUpperCase().padStart(4, "0");
  let inode: string | undefined;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[1]!.endsWith(`:${hex(localPort)}`) && f[2]!.endsWith(`:${hex(remotePort)}`)) inode = f[9];
    }
  }
  if (inode === undefined) return undefined;
  for (const pid of pids) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`) return pid;
      }
    } catch {
      // Gone meanwhile.
    }
  }
  return undefined;
}

/**
 * A {@link KillPeer} over the harness's processes: a `kagiya serve` instance is SIGKILLed (and put
 * in `restart`, for the next step), a CLI worker too; each is told to `disturb` as a kill.
 */
export function killPeerAmong(instances: readonly ServeInstance[], disturb: (what: "kill" | "cli-kill") => void, restart: Set<ServeInstance>): KillPeer {
  return async (peerPort, proxyPort) => {
    const procs = liveProcesses();
    const pid = pidOfConnection(peerPort, proxyPort, [...procs.keys()]);
    if (pid === undefined) return null;
    const inst = instances.find((i) => i.child?.pid === pid);
    if (inst) {
      disturb("kill");
      await inst.kill();
      restart.add(inst);
      return `serve instance ${inst.index}`;
    }
    disturb("cli-kill");
    procs.get(pid)!.kill("SIGKILL");
    return "a CLI worker";
  };
}

/**
 * Starts the provider (its clock tied to `state`'s offset from now on) and its proxy. `killPeer`
 * SIGKILLs the kagiya process at the other end of a held answer.
 */
export async function startSoakOidc(state: EmulatorState, killPeer: KillPeer): Promise<SoakOidc> {
  // The emulator's clock offset, mirrored into memory the worker reads.
  const clock = new SharedArrayBuffer(8);
  const offset = new BigInt64Array(clock);
  let offsetMs = state.clockOffsetMs;
  Atomics.store(offset, 0, BigInt(Math.round(offsetMs)));
  Object.defineProperty(state, "clockOffsetMs", {
    configurable: true,
    enumerable: true,
    get: () => offsetMs,
    set: (v: number) => {
      offsetMs = v;
      Atomics.store(offset, 0, BigInt(Math.round(v)));
    },
  });

  // The proxy first (its URL is the issuer the provider is told), pointed at the provider once it listens.
  const proxy: TestProxy = await startProxy("http://127.0.0.1:1");
  const clientSecret = randomBytes(24).toString("base64url");
  const worker = new Worker(new URL("./oidc-worker.ts", import.meta.url), { workerData: { clock, publicUrl: proxy.url, clientId: CLIENT_ID, clientSecret, ttl: PROVIDER_TTL } });
  const counts: SoakOidc["counts"] = { refreshes: 0, faultHits: 0, held: 0, heldKills: [], lost: 0, revokedGrants: 0, logins: 0 };
  const url = await new Promise<string>((resolve, reject) => {
    worker.once("error", reject);
    worker.on("message", (m: { ready?: boolean; url?: string; event?: string }) => {
      if (m.ready) resolve(m.url!);
      if (m.event === "grant.revoked") counts.revokedGrants++;
    });
  });
  proxy.target = url;
  // oidc-provider builds its endpoint URLs from the Host header: it must name the proxy.
  proxy.keepHost = true;
  const proxyPort = Number(new URL(proxy.url).port);

  const issued = new Map<string, ProviderIssue>();
  const uses: ProviderUse[] = [];
  const roots = new Map<string, string>();
  const losses: number[] = [];
  let faults: Array<ProviderFault & { rnd: () => number }> = [];
  let killArmed = false;
  let lossArmed = false;
  const isRefresh = (req: { method: string; url: string; body: string }) => req.method === "POST" && req.url === "/token" && new URLSearchParams(req.body).get("grant_type") === "refresh_token";
  const hit = (name: ProviderFault["name"]) => faults.some((f) => f.name === name && f.rnd() < f.probability) && (counts.faultHits++, true);

  proxy.refuse = (req) => {
    if (!isRefresh(req)) return undefined;
    if (hit("reset")) return "reset";
    if (hit("5xx")) return { status: 503, headers: { "content-type": "application/json" }, body: '{"error":"temporarily_unavailable"}' };
    return undefined;
  };
  proxy.deliver = async (req, res, client) => {
    if (req.method !== "POST" || req.url !== "/token") return true;
    const form = new URLSearchParams(req.body);
    const realAt = Date.now();
    let next: string | undefined;
    if (res.status === 200) {
      try {
        next = (JSON.parse(res.body) as { refresh_token?: string }).refresh_token;
      } catch {
        next = undefined;
      }
    }
    const presented = form.get("grant_type") === "refresh_token" ? form.get("refresh_token") : null;
    if (presented !== null) {
      counts.refreshes++;
      uses.push({ token: presented, accepted: res.status === 200, realAt });
    }
    const issue: ProviderIssue | undefined = next === undefined ? undefined : { token: next, parent: presented, realAt, delivered: true };
    if (issue) issued.set(issue.token, issue);
    if (presented === null || issue === undefined) return true;
    if (killArmed) {
      // Held: the process that asked is SIGKILLed before it can store the new refresh token.
      killArmed = false;
      counts.held++;
      issue.delivered = false;
      const killed = client.remotePort === undefined ? null : await killPeer(client.remotePort, proxyPort);
      if (killed === null) losses.push(Date.now());
      else counts.heldKills.push(killed);
      return false;
    }
    if (lossArmed) {
      lossArmed = false;
      counts.lost++;
      issue.delivered = false;
      losses.push(Date.now());
      return false;
    }
    return true;
  };

  // Owners found, by token: a chain is walked once.
  const known = new Map<string, string>();
  const owner = (token: string): string | undefined => {
    const path: string[] = [];
    let found: string | undefined;
    for (let t: string | null = token; t !== null; t = issued.get(t)?.parent ?? null) {
      found = known.get(t) ?? roots.get(t);
      if (found !== undefined) break;
      path.push(t);
    }
    if (found !== undefined) for (const t of path) known.set(t, found);
    return found;
  };

  return {
    issuer: proxy.url,
    issued,
    uses,
    roots,
    losses,
    counts,
    setFaults(list) {
      faults = list.filter((f) => f.name === "reset" || f.name === "5xx").map((f) => ({ ...f, rnd: mulberry32(f.seed) }));
      if (list.some((f) => f.name === "kill-held")) killArmed = true;
      if (list.some((f) => f.name === "lost-refresh")) lossArmed = true;
    },
    disarm() {
      faults = [];
      killArmed = false;
      lossArmed = false;
    },
    async active(token) {
      const res = await fetch(`${url}/token/introspection`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${btoa(`${CLIENT_ID}:${clientSecret}`)}` },
        body: new URLSearchParams({ token, token_type_hint: "refresh_token" }).toString(),
      });
      if (res.status !== 200) throw new Error(`introspection answered ${res.status}`);
      return ((await res.json()) as { active: boolean }).active;
    },
    async add(id, spec, env) {
      const r = await runKagiya(["oauth", "add", id, "--issuer", proxy.url, "--client-id", CLIENT_ID, "--client-secret-env", "SOAK_OAUTH_CLIENT_SECRET", "--scope", SCOPE, "--store", spec], { ...env, SOAK_OAUTH_CLIENT_SECRET: clientSecret });
      if (r.code !== 0) throw new Error(`kagiya oauth add ${id} failed: ${r.stderr.trim()}`);
    },
    async login(id, spec, env) {
      const p = startLogin(["oauth", "login", id, "--no-browser", "--store", spec], env);
      const callback = await headlessLogin(await p.url, { account: id });
      // The loopback listener answers once; what it says does not matter, the process's exit does.
      await fetch(callback).then((r) => r.text()).catch(() => "");
      const r = await p.done;
      if (r.code !== 0) throw new Error(`kagiya oauth login ${id} failed: ${r.stderr.trim().split("\n").at(-1)}`);
      counts.logins++;
    },
    owner,
    claim(id, token) {
      let t = token;
      for (let p = issued.get(t)?.parent; p !== undefined && p !== null; p = issued.get(t)?.parent) t = p;
      roots.set(t, id);
    },
    async close() {
      await proxy.close();
      await worker.terminate();
    },
  };
}
