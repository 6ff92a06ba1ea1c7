// The whole schedule of a soak run, drawn from its seed before anything starts: which LINE faults
// are on in which step, which `kagiya serve` is SIGKILLed when and restarted when, when the store
// goes away, every webhook delivery and redelivery, every token read and CLI worker. The same seed
// gives the same schedule (and the same hash); what the processes do with it is theirs.
import { createHash } from "node:crypto";
import { mulberry32 } from "../../src/core/prng.ts";
import type { SoakParams } from "./params.ts";

/** Sub-ticks per step: the clock jumps at the start of a step, then moves TICK_SECONDS per tick. */
export const TICKS = 4;
export const TICK_SECONDS = 5;
/** The first step and the last CALM_TAIL steps have no faults, kills or outages. */
export const CALM_TAIL = 3;
/** Clock skew of an instance, at most this many ms either way (instance 0 has none). */
export const MAX_SKEW_MS = 2000;
/** Real ms after a LINE answer is held for the `ambiguous` and `timeout` faults: past kagiya's 5 s connect timeout. */
export const LOST_ANSWER_DELAY_MS = 6000;

/**
 * The credential kinds the soak sets up. Kinds whose tokens come with refresh tokens have
 * `refreshTokens: true`: the refresh-token invariant checks them (LINE WORKS apps on the
 * `refresh-token` policy, see {@link WORKS_VARIANTS}; OAuth 2.0 grants at oidc-provider with
 * rotation on, see ./oauth.ts).
 */
export const KINDS = [
  { kind: "line-v2.1", share: 2, webhooks: true, ledger: true, refreshTokens: false },
  { kind: "line-stateless", share: 1, webhooks: false, ledger: false, refreshTokens: false },
  { kind: "line-works", share: 1, webhooks: false, ledger: false, refreshTokens: true },
  { kind: "oauth2", share: 1, webhooks: false, ledger: false, refreshTokens: true },
] as const;

/**
 * LINE WORKS apps take these in turn (the first works app gets the first): the refresh policy, the
 * app's refresh-token rotation (an emulator app setting) and its access-token lifetime. Refresh-token
 * apps get 1 h tokens so that even a short run refreshes them every step. Drawn without the seed's
 * PRNG, so the rest of a seed's schedule is as it was.
 */
export const WORKS_VARIANTS = [
  { refresh: "refresh-token", rotation: true, tokenLifetime: 3600 },
  { refresh: "assertion", rotation: false, tokenLifetime: 86400 },
  { refresh: "refresh-token", rotation: false, tokenLifetime: 3600 },
] as const;

export type WorksVariant = (typeof WORKS_VARIANTS)[number];

export type SoakKind = (typeof KINDS)[number]["kind"];

/** One credential of the run. */
export interface CredentialPlan {
  index: number;
  id: string;
  kind: SoakKind;
  /** v2.1: the policy's token lifetime and grace (seconds). */
  lifetimeSeconds: number;
  revokeGraceSeconds: number;
  /** v2.1: the policy's refresh point as fractions of the lifetime, when not kagiya's default 0.7–0.8. */
  refreshAt: [number, number] | null;
  /** LINE WORKS: refresh policy, rotation and token lifetime; null for other kinds. */
  works: WorksVariant | null;
}

export type FaultName = "5xx" | "reset" | "429" | "timeout" | "ambiguous" | "latency";

/**
 * A fault at the OAuth provider's proxy, on refresh requests only: `reset` and `5xx` before the
 * provider sees the request (probability `probability` each); `lost-refresh`: the next answer the
 * provider rotated is lost; `kill-held`: the next rotated answer is held while the kagiya process
 * that asked is SIGKILLed, then dropped (these two stay armed until they fire).
 */
export interface ProviderFault {
  name: "reset" | "5xx" | "lost-refresh" | "kill-held";
  probability: number;
  seed: number;
}

/** A fault as the emulator's control API takes it, with the name it is counted under. */
export interface PlannedFault {
  name: FaultName;
  spec: Record<string, unknown>;
}

export interface Delivery {
  tick: number;
  /** Index into the credentials (a LINE channel that takes webhooks). */
  credential: number;
  events: number;
  /** Also send it again (the same bytes) this many ticks later, to another instance. */
  redeliverAfter: number | null;
}

export interface Read {
  tick: number;
  credential: number;
  /** Preferred instance; the next one up is used when it is down. */
  instance: number;
}

export interface CliWorker {
  tick: number;
  credential: number;
  command: "get" | "reconcile";
  /** SIGKILL it this many real ms after it starts, or let it finish. */
  killAfterMs: number | null;
}

export interface StepPlan {
  index: number;
  /** Simulated seconds the clock jumps at the start of the step. */
  jumpSeconds: number;
  faults: PlannedFault[];
  /** Instances SIGKILLed at a tick of this step. */
  kills: Array<{ instance: number; tick: number }>;
  /** Instances started again at the start of this step. */
  restarts: number[];
  /** Store unreachable from tick `from` to tick `to` (exclusive; TICKS = until the step ends). */
  outage: { from: number; to: number } | null;
  deliveries: Delivery[];
  reads: Read[];
  cli: CliWorker[];
  /** Faults at the OAuth provider's proxy in this step (none when the run has no OAuth grant). */
  providerFaults: ProviderFault[];
  /** No LINE fault, kill, restart or outage in this step. */
  calm: boolean;
}

export interface Schedule {
  seed: number;
  credentials: CredentialPlan[];
  skewsMs: number[];
  steps: StepPlan[];
  /** sha256 of everything above: the same seed and sizes give the same hash. */
  hash: string;
}

const V21_LIFETIMES = [6 * 3600, 86400, 3 * 86400];

/**
 * Builds the schedule; only `seed`, `days`, `instances`, `channels`, `stepSeconds` (and `quiet`:
 * no LINE faults, kills or outages at all) matter.
 */
export function buildSchedule(params: Pick<SoakParams, "seed" | "days" | "instances" | "channels" | "stepSeconds"> & { quiet?: boolean }): Schedule {
  const rnd = mulberry32(params.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const between = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));

  const shares = KINDS.flatMap((k) => Array.from({ length: k.share }, () => k.kind));
  let worksSeen = 0;
  const credentials: CredentialPlan[] = Array.from({ length: params.channels }, (_, i) => {
    const kind = shares[i % shares.length]!;
    const id = kind === "line-works" ? `works-soak-${i}` : kind === "oauth2" ? `oauth-soak-${i}` : String(1_600_000_000 + i);
    // The first v2.1 channel always lives 12 h and is refreshed at 30–40 % of it, so even a short
    // run refreshes it, and its superseded tokens have hours of life left to be revoked in.
    const lifetimeSeconds = kind === "line-v2.1" ? (i === 0 ? 12 * 3600 : pick(V21_LIFETIMES)) : 0;
    const refreshAt: [number, number] | null = kind === "line-v2.1" && i === 0 ? [0.3, 0.4] : null;
    const works = kind === "line-works" ? WORKS_VARIANTS[worksSeen++ % WORKS_VARIANTS.length]! : null;
    return { index: i, id, kind, lifetimeSeconds, revokeGraceSeconds: kind === "line-v2.1" ? pick([300, 600, 1800]) : 0, refreshAt, works };
  });
  const webhookTargets = credentials.filter((c) => KINDS.find((k) => k.kind === c.kind)!.webhooks).map((c) => c.index);
  const skewsMs = Array.from({ length: params.instances }, (_, i) => (i === 0 ? 0 : between(-MAX_SKEW_MS, MAX_SKEW_MS)));

  const count = Math.ceil((params.days * 86400) / params.stepSeconds);
  // Provider faults come from their own PRNG, so they leave the rest of a seed's schedule alone.
  const providerRnd = mulberry32(params.seed ^ 0x0a2f_5eed);
  const hasGrants = credentials.some((c) => c.kind === "oauth2");
  const steps: StepPlan[] = [];
  const downUntil = new Map<number, number>(); // instance → step it is restarted at
  for (let s = 0; s < count; s++) {
    const quiet = params.quiet === true || s === 0 || s >= count - CALM_TAIL;
    const restarts = [...downUntil].filter(([, at]) => at === s).map(([i]) => i);
    for (const i of restarts) downUntil.delete(i);
    const faults: PlannedFault[] = [];
    const kills: StepPlan["kills"] = [];
    let outage: StepPlan["outage"] = null;
    if (!quiet) {
      if (rnd() < 0.4) {
        const n = rnd() < 0.7 ? 1 : 2;
        for (let f = 0; f < n; f++) faults.push(planFault(pick(["5xx", "reset", "429", "timeout", "ambiguous", "latency"] as const), rnd, between));
      }
      if (rnd() < 0.12) {
        const up = Array.from({ length: params.instances }, (_, i) => i).filter((i) => !downUntil.has(i));
        if (up.length > 0) {
          const victim = pick(up);
          kills.push({ instance: victim, tick: between(0, TICKS - 1) });
          downUntil.set(victim, Math.min(count - CALM_TAIL, s + 1 + (rnd() < 0.3 ? 1 : 0)));
        }
      }
      if (rnd() < 0.08) {
        const from = between(0, TICKS - 2);
        outage = { from, to: between(from + 1, TICKS) };
      }
    }
    const deliveries: Delivery[] = [];
    const reads: Read[] = [];
    const cli: CliWorker[] = [];
    for (let t = 0; t < TICKS; t++) {
      if (s === 0 && t < 2) continue; // the first token of each channel is being warmed
      for (let d = between(0, 2); d > 0 && webhookTargets.length > 0; d--) {
        deliveries.push({ tick: t, credential: pick(webhookTargets), events: between(1, 3), redeliverAfter: rnd() < 0.2 ? between(0, 3) : null });
      }
      for (let r = between(2, 5); r > 0; r--) reads.push({ tick: t, credential: between(0, credentials.length - 1), instance: between(0, params.instances - 1) });
    }
    if (rnd() < 0.2 && s > 0) {
      const credential = between(0, credentials.length - 1);
      const isV21 = credentials[credential]!.kind === "line-v2.1";
      cli.push({ tick: between(0, TICKS - 1), credential, command: isV21 && rnd() < 0.4 ? "reconcile" : "get", killAfterMs: !quiet && rnd() < 0.3 ? between(100, 1500) : null });
    }
    const providerFaults = hasGrants && !quiet ? planProviderFaults(providerRnd, s === 1 && count >= HELD_KILL_FROM_STEPS) : [];
    const jumpSeconds = s === 0 ? 0 : params.stepSeconds - TICKS * TICK_SECONDS;
    steps.push({ index: s, jumpSeconds, faults, kills, restarts, outage, deliveries, reads, cli, providerFaults, calm: faults.length === 0 && kills.length === 0 && restarts.length === 0 && outage === null && !cli.some((c) => c.killAfterMs !== null) && providerFaults.length === 0 });
  }
  const body = { seed: params.seed, quiet: params.quiet === true, days: params.days, instances: params.instances, stepSeconds: params.stepSeconds, credentials, skewsMs, steps };
  const hash = createHash("sha256").update(JSON.stringify(body)).digest("hex").slice(0, 16);
  return { seed: params.seed, credentials, skewsMs, steps, hash };
}

/**
 * Runs of at least this many steps arm a `kill-held` in their first faulty step, so even a
 * one-day run has one. Shorter runs (the fixed-seed run in npm test) only draw them by chance: a
 * killed holder's issue lock lives on for kagiya's 30 s lock TTL, and the grant's reads wait on it.
 */
export const HELD_KILL_FROM_STEPS = 24;

/** A step's provider faults (`first`: arm a `kill-held` whatever the draw). */
function planProviderFaults(rnd: () => number, first: boolean): ProviderFault[] {
  const out: ProviderFault[] = [];
  const seed = () => Math.floor(rnd() * 2 ** 32);
  if (rnd() < 0.25) out.push({ name: rnd() < 0.5 ? "reset" : "5xx", probability: 0.4, seed: seed() });
  if (rnd() < 0.04) out.push({ name: "lost-refresh", probability: 1, seed: seed() });
  if (first || rnd() < 0.05) out.push({ name: "kill-held", probability: 1, seed: seed() });
  return out;
}

function planFault(name: FaultName, rnd: () => number, between: (lo: number, hi: number) => number): PlannedFault {
  const seed = Math.floor(rnd() * 2 ** 32);
  switch (name) {
    case "5xx":
      return { name, spec: { method: "*", path: "/oauth2/*", status: [500, 502, 503][between(0, 2)], probability: 0.5, seed } };
    case "reset":
      return { name, spec: { method: "*", path: "/oauth2/*", reset: true, probability: 0.4, seed } };
    case "429":
      return { name, spec: { method: "POST", path: "/oauth2/*", status: 429, retryAfter: between(1, 120), probability: 0.5, seed } };
    case "timeout": {
      // The answer comes after kagiya gave up: on the list of valid key IDs, or on a revocation.
      const onList = rnd() < 0.5;
      return { name, spec: { method: onList ? "GET" : "POST", path: onList ? "/oauth2/v2.1/tokens/kid" : "/oauth2/v2.1/revoke", delayMs: LOST_ANSWER_DELAY_MS, count: between(1, 2) } };
    }
    case "ambiguous":
      // LINE issues the token, the answer is lost: the orphan case.
      return { name, spec: { method: "POST", path: "/oauth2/v2.1/token", delayMs: LOST_ANSWER_DELAY_MS, count: 1 } };
    case "latency":
      return { name, spec: { method: "*", path: "*", delayMs: between(50, 400), probability: 0.3, seed } };
  }
}
