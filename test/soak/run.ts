// One soak run: sets up the world, plays the schedule step by step on the emulator's clock, checks
// the invariants as it goes and at the end, and returns the table and the figures.
import { parseFault } from "../../src/emulator/faults.ts";
import { worksOf } from "../../src/emulator/works-state.ts";
import { startSoakEmulator, type SoakEmulator } from "./emulator.ts";
import { InvariantBook } from "./invariants.ts";
import { CALM_SLACK, DISTURBANCE_WINDOW_MS, LedgerChecks, Timeline, type Disturbance } from "./ledger-checks.ts";
import type { SoakParams } from "./params.ts";
import { buildSchedule, CALM_TAIL, TICK_SECONDS, TICKS, type Schedule, type StepPlan } from "./schedule.ts";
import { OAuthRefreshChecks } from "./oauth-checks.ts";
import { killPeerAmong, startSoakOidc, type SoakOidc } from "./oauth.ts";
import { RefreshChecks } from "./refresh-checks.ts";
import { Traffic } from "./traffic.ts";
import { kagiyaEnv, newMasterKey, openSoakStore, runKagiya, ServeInstance, setUpCredentials, type LogCounts, type SoakCredential, type SoakStore } from "./world.ts";

/** Figures of a run, for the report (docs/development.md lists them). */
export interface SoakFigures {
  simulatedDays: number;
  steps: number;
  instances: number;
  credentials: Record<string, number>;
  serveKills: number;
  /** `kagiya serve` exits the harness did not cause. */
  serveCrashes: string[];
  cliWorkers: number;
  cliKills: number;
  storeOutages: number;
  lineFaultRules: Record<string, number>;
  lineFaultHits: number;
  tokenRequestsAtLine: number;
  issuedAtLine: Record<string, number>;
  readsOk: number;
  readsFailed: number;
  webhookEventsAccepted: number;
  webhookEventsHandled: number;
  webhookDuplicates: number;
  deliveries: number;
  redeliveries: number;
  replays: number;
  /** OAuth grants: the provider's side (none when the run has no grant). */
  oauth: { grants: number; refreshes: number; faultRules: Record<string, number>; faultHits: number; heldKills: string[]; held: number; lostAnswers: number; grantsEnded: number; logins: number } | null;
  realSeconds: number;
}

export interface SoakResult {
  params: SoakParams;
  hash: string;
  book: InvariantBook;
  figures: SoakFigures;
  /** Warnings and errors the serve processes logged, by message. */
  logs: LogCounts;
  failed: boolean;
  /** What the plants (if any) targeted, by invariant: a channel ID. */
  planted: Record<string, string>;
}

/** What a plant (the honesty test) gets to work with. */
export interface SoakWorld {
  params: SoakParams;
  schedule: Schedule;
  emu: SoakEmulator;
  store: SoakStore;
  credentials: SoakCredential[];
  instances: ServeInstance[];
  traffic: Traffic;
  book: InvariantBook;
  masterKey: string;
  /** The readers' API key (every credential). */
  apiKey: string;
  env: (skewMs?: number) => Record<string, string>;
  disturb(what: Disturbance["what"]): void;
  /** The OAuth provider's witness (undefined when the run has no grant). */
  oidc: SoakOidc | undefined;
  planted: Record<string, string>;
}

/** Hooks for planting violations; a normal run has none. */
export interface SoakPlants {
  /** Extra serve flags per instance (e.g. `--inbox memory` on one). */
  serveArgs?(instance: number): string[];
  /** After the step's ticks, before its checks. */
  beforeChecks?(step: number, world: SoakWorld): Promise<void>;
  /** During each tick, beside the scheduled traffic. */
  duringTick?(step: number, tick: number, world: SoakWorld): Promise<void>;
  /** At the end, before the store and the emulator go. */
  close?(): Promise<void>;
}

export interface SoakOptions {
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  plants?: SoakPlants;
  /** No LINE faults, kills or outages (the plants bring their own). */
  quiet?: boolean;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/** Runs one soak; never throws for a violated invariant (see `failed`), only for a broken set-up. */
export async function runSoak(params: SoakParams, options: SoakOptions = {}): Promise<SoakResult> {
  const log = options.log ?? (() => {});
  const schedule = buildSchedule({ ...params, quiet: options.quiet === true });
  const startedReal = Date.now();
  const book = new InvariantBook();
  const emu = await startSoakEmulator();
  const store = await openSoakStore(params.store);
  const masterKey = newMasterKey();
  const logs: LogCounts = new Map();
  const failedEvents = new Set<string>();
  const instances: ServeInstance[] = [];
  const cliRuns: Array<Promise<unknown>> = [];
  const disturbances: Disturbance[] = [];
  const faultRules: Record<string, number> = {};
  let faultHits = 0;
  let outages = 0;
  let cliKills = 0;
  const planted: Record<string, string> = {};
  let oidc: SoakOidc | undefined;
  const providerFaultRules: Record<string, number> = {};
  /** Instances the provider's proxy killed (a held answer): started again at the next step. */
  const restartNext = new Set<ServeInstance>();
  try {
    log(`soak: seed ${params.seed}, schedule ${schedule.hash}, ${schedule.steps.length} steps of ${params.stepSeconds} s (${params.days} days), ${params.instances} instances, ${params.channels} credentials, store ${params.store}`);
    const credentials = await setUpCredentials(emu.url, store.direct, masterKey, schedule.credentials);
    const env = (skewMs = 0) => ({ ...kagiyaEnv(emu.url, masterKey, skewMs) });
    const disturb = (what: Disturbance["what"]) => void disturbances.push({ realAt: Date.now(), what });
    // OAuth grants: the provider (on the emulator's clock) and its proxy, then `oauth add` and a login each.
    const grants = credentials.filter((c) => c.kind === "oauth2");
    let oauthChecks: OAuthRefreshChecks | undefined;
    if (grants.length > 0) {
      const started = await startSoakOidc(emu.state, killPeerAmong(instances, disturb, restartNext));
      oidc = started;
      oauthChecks = new OAuthRefreshChecks(started, store.direct, masterKey, book, credentials, disturbances, (id) => started.login(id, store.spec, env()));
      const checks = oauthChecks;
      await Promise.all(grants.map((g) => started.add(g.id, store.spec, env())));
      await Promise.all(grants.map(async (g) => {
        await started.login(g.id, store.spec, env());
        await checks.claim(g.id);
      }));
      log(`soak: ${grants.length} OAuth grants logged in at oidc-provider ${started.issuer}`);
    }
    const lineIds = credentials.filter((c) => c.kind === "line-v2.1" || c.kind === "line-stateless").map((c) => c.id);
    const otherIds = credentials.filter((c) => c.kind === "line-works" || c.kind === "oauth2").map((c) => c.id);
    const created = await runKagiya(["apikey", "create", "--channel", lineIds.join(","), ...(otherIds.length ? ["--credential", otherIds.join(",")] : []), "--name", "soak-reader", "--json", "--store", store.spec], env());
    if (created.code !== 0) throw new Error(`kagiya apikey create failed: ${created.stderr.trim()}`);
    const apiKey = (JSON.parse(created.stdout) as { key: string }).key;

    for (let i = 0; i < params.instances; i++) {
      const args = ["--store", store.spec, "--max-issue-rate", "100", ...(options.plants?.serveArgs?.(i) ?? [])];
      instances.push(new ServeInstance(i, schedule.skewsMs[i]!, args, env(schedule.skewsMs[i]!), logs, failedEvents));
    }
    await Promise.all(instances.map((i) => i.start()));
    log(`soak: ${instances.length} kagiya serve processes up on ${emu.url}`);

    const traffic = new Traffic(emu, store, book);
    const timeline = new Timeline();
    const checks = new LedgerChecks(emu, store.direct, book, credentials, params.stepSeconds, timeline, disturbances);
    const refreshChecks = new RefreshChecks(emu, store.direct, masterKey, book, credentials, disturbances);
    if (!refreshChecks.applicable && oauthChecks === undefined) book.notApplicable("refresh-tokens");
    const world: SoakWorld = { params, schedule, emu, store, credentials, instances, traffic, book, masterKey, apiKey, env, disturb, planted, oidc };
    /** The instance to use: the preferred one, else the next one up. */
    const upFrom = (preferred: number): ServeInstance | undefined => {
      for (let k = 0; k < instances.length; k++) {
        const inst = instances[(preferred + k) % instances.length]!;
        if (inst.up) return inst;
      }
      return undefined;
    };
    const stepStartSim: number[] = [];
    const replays: Array<{ dueStep: number; dueTick: number; index: number }> = [];

    const playTick = async (step: StepPlan, tick: number): Promise<void> => {
      const s = step.index;
      if (step.outage && tick === step.outage.from && !store.outage) {
        store.proxy.cut();
        store.outage = true;
        outages++;
        disturb("outage");
      }
      if (step.outage && tick === step.outage.to && store.outage) restore();
      for (const k of step.kills.filter((x) => x.tick === tick)) {
        disturb("kill");
        await instances[k.instance]!.kill();
      }
      for (const w of step.cli.filter((x) => x.tick === tick)) {
        const cred = credentials[w.credential]!;
        if (w.killAfterMs !== null) setTimeout(() => disturb("cli-kill"), w.killAfterMs).unref();
        const args = cred.kind === "oauth2" ? ["oauth", "token", cred.id] : ["token", w.command, cred.id];
        cliRuns.push(runKagiya([...args, "--store", store.spec], env(), w.killAfterMs).then((r) => {
          if (r.signal === "SIGKILL") cliKills++;
        }));
      }
      const work: Array<Promise<unknown>> = [];
      work.push(traffic.redeliverUnanswered((i) => upFrom(s + tick + i)));
      for (const r of replays.filter((x) => x.dueStep === s && x.dueTick === tick)) {
        const inst = upFrom(r.index + s);
        if (inst) work.push(traffic.resend(inst, traffic.answered[r.index]!, "replay"));
      }
      for (const [n, d] of step.deliveries.entries()) {
        if (d.tick !== tick) continue;
        const inst = upFrom(d.credential + s + n);
        if (!inst) continue;
        work.push(traffic.deliver(inst, credentials[d.credential]!, d.events).then(() => {
          if (d.redeliverAfter !== null && traffic.answered.length > 0) {
            const due = tick + d.redeliverAfter;
            replays.push({ dueStep: s + Math.floor(due / TICKS), dueTick: due % TICKS, index: traffic.answered.length - 1 });
          }
        }));
      }
      for (const r of step.reads.filter((x) => x.tick === tick)) {
        const inst = upFrom(r.instance);
        if (inst) work.push(traffic.read(inst, credentials[r.credential]!, apiKey));
      }
      if (options.plants?.duringTick) work.push(options.plants.duringTick(s, tick, world));
      await Promise.all(work);
    };
    const restore = (): void => {
      store.proxy.restore();
      store.outage = false;
      store.restoredAt = Date.now();
      disturb("outage");
    };

    let lastLogged = 0;
    for (const step of schedule.steps) {
      const s = step.index;
      const stepStart = Date.now();
      for (const i of step.restarts) void instances[i]!.start().catch((e: Error) => log(`soak: restart of instance ${i} failed: ${e.message}`));
      for (const inst of restartNext) void inst.start().catch((e: Error) => log(`soak: restart of instance ${inst.index} failed: ${e.message}`));
      restartNext.clear();
      if (s >= schedule.steps.length - CALM_TAIL) oidc?.disarm();
      else oidc?.setFaults(step.providerFaults);
      for (const f of step.providerFaults) providerFaultRules[f.name] = (providerFaultRules[f.name] ?? 0) + 1;
      for (const f of emu.faults.describe() as Array<{ hits: number }>) faultHits += f.hits;
      emu.faults.clear();
      for (const f of step.faults) {
        const spec = parseFault(f.spec);
        if (typeof spec === "string") throw new Error(`planned fault refused by the emulator: ${spec}`);
        emu.faults.add(spec);
        faultRules[f.name] = (faultRules[f.name] ?? 0) + 1;
        if (f.name === "ambiguous") disturb("lost-answer");
      }
      emu.state.clockOffsetMs += step.jumpSeconds * 1000;
      stepStartSim[s] = emu.state.now();
      for (let tick = 0; tick < TICKS; tick++) {
        const tickStart = Date.now();
        if (tick > 0) emu.state.clockOffsetMs += TICK_SECONDS * 1000;
        timeline.mark(emu.state.now(), Date.now());
        // The processes read the clock every 100 ms.
        await sleep(150);
        await playTick(step, tick);
        await sleep(tickStart + params.stepMs / TICKS - Date.now());
      }
      if (store.outage) restore();
      if (step.faults.some((f) => f.name === "ambiguous")) disturb("lost-answer"); // its issuance lands up to 6 s late
      await options.plants?.beforeChecks?.(s, world);
      const calm = step.faults.length === 0 && !checks.disturbedAt(Date.now()) && instances.some((i) => i.up);
      await checks.check(calm, s >= 1 ? stepStartSim[s - 1]! : -Infinity);
      await refreshChecks.check();
      await oauthChecks?.check();
      if (Date.now() - lastLogged > 10_000 || s === schedule.steps.length - 1) {
        lastLogged = Date.now();
        log(`soak: step ${s + 1}/${schedule.steps.length} (day ${((s + 1) * params.stepSeconds / 86400).toFixed(2)}), reads ${traffic.stats.readsOk} ok / ${traffic.stats.readsFailed} failed, events accepted ${traffic.accepted.size}, violations ${book.violations}, ${Math.round((Date.now() - stepStart))} ms/step`);
      }
    }

    // The end: no faults, every instance up, LINE's redeliveries sent; events taken over from killed
    // instances once their leases pass (the clock keeps moving a tick at a time).
    for (const f of emu.faults.describe() as Array<{ hits: number }>) faultHits += f.hits;
    emu.faults.clear();
    oidc?.disarm();
    await Promise.all(instances.map((i) => i.start().catch(() => {})));
    await Promise.allSettled(cliRuns);
    // Until every accepted event is handled, or nothing moved for 12 rounds (60 s on the clock: two leases).
    const drainUntil = Date.now() + 60_000;
    let still = 0;
    let left = -1;
    while (Date.now() < drainUntil && still < 12) {
      await traffic.redeliverUnanswered((i) => upFrom(i));
      const now = traffic.unhandled(failedEvents).length + traffic.unanswered.length;
      if (now === 0) break;
      still = now === left ? still + 1 : 0;
      left = now;
      emu.state.clockOffsetMs += TICK_SECONDS * 1000;
      await sleep(500);
    }
    for (let k = 0; k <= CALM_SLACK; k++) {
      emu.state.clockOffsetMs += TICK_SECONDS * 1000;
      await sleep(300);
      await checks.check(!checks.disturbedAt(Date.now()), emu.state.now() - params.stepSeconds * 1000);
      await refreshChecks.check();
      await oauthChecks?.check();
    }
    if (oauthChecks) {
      // Logins under way finish; then the grants they left are checked once more.
      await oauthChecks.settle();
      await oauthChecks.check(true);
    }
    const unhandled = new Set(traffic.unhandled(failedEvents));
    const replied = new Set(emu.state.messages.filter((m) => m.kind === "reply").map((m) => m.replyToken));
    for (const t of traffic.accepted.keys()) {
      const missing = unhandled.has(t);
      book.check("webhooks-handled", !missing, () => `channel ${traffic.accepted.get(t)!.channelId}: an event answered 200 at ${new Date(traffic.accepted.get(t)!.at).toISOString()} was never handled (no reply at LINE)`);
    }
    const failedOnly = [...traffic.accepted].filter(([t, a]) => !replied.has(t) && failedEvents.has(a.eventId)).length;
    if (failedOnly > 0) book.note("webhooks-handled", "handled, but the handler failed (no reply sent)", failedOnly);
    if (emu.counts.replyRefusals > 0) book.note("webhooks-handled", "handled twice (reply refused: token used)", emu.counts.replyRefusals);
    book.note("webhooks-handled", "redeliveries", traffic.stats.redeliveries);
    book.note("webhooks-handled", "replays", traffic.stats.replays);
    book.check("cap-30", emu.counts.capRefusals === 0, () => `LINE refused ${emu.counts.capRefusals} issuance(s) at the cap of 30`);

    await Promise.all(instances.map((i) => i.stop()));
    const issued: Record<string, number> = {};
    for (const list of emu.state.tokensByChannel.values()) for (const t of list) issued[t.kind] = (issued[t.kind] ?? 0) + 1;
    for (const t of worksOf({ state: emu.state, faults: emu.faults }).tokens.values()) if (t.type === "access") issued["works"] = (issued["works"] ?? 0) + 1;
    const kinds: Record<string, number> = {};
    for (const c of credentials) {
      const k = c.works === null ? c.kind : `${c.kind} ${c.works.refresh}${c.works.refresh === "refresh-token" ? ` rotation ${c.works.rotation ? "on" : "off"}` : ""}`;
      kinds[k] = (kinds[k] ?? 0) + 1;
    }
    const figures: SoakFigures = {
      simulatedDays: Math.round(((emu.state.now() - stepStartSim[0]!) / 86400_000) * 100) / 100,
      steps: schedule.steps.length,
      instances: params.instances,
      credentials: kinds,
      serveKills: instances.reduce((n, i) => n + i.kills, 0),
      serveCrashes: instances.flatMap((i) => i.crashes),
      cliWorkers: schedule.steps.reduce((n, s) => n + s.cli.length, 0),
      cliKills,
      storeOutages: outages,
      lineFaultRules: faultRules,
      lineFaultHits: faultHits,
      tokenRequestsAtLine: emu.counts.tokenRequests,
      issuedAtLine: issued,
      readsOk: traffic.stats.readsOk,
      readsFailed: traffic.stats.readsFailed,
      webhookEventsAccepted: traffic.accepted.size,
      webhookEventsHandled: traffic.accepted.size - unhandled.size,
      webhookDuplicates: emu.counts.replyRefusals,
      deliveries: traffic.stats.deliveries,
      redeliveries: traffic.stats.redeliveries,
      replays: traffic.stats.replays,
      oauth: oidc === undefined ? null : {
        grants: grants.length, refreshes: oidc.counts.refreshes, faultRules: providerFaultRules, faultHits: oidc.counts.faultHits,
        heldKills: oidc.counts.heldKills, held: oidc.counts.held, lostAnswers: oidc.counts.lost, grantsEnded: oidc.counts.revokedGrants, logins: oidc.counts.logins,
      },
      realSeconds: Math.round((Date.now() - startedReal) / 1000),
    };
    return { params, hash: schedule.hash, book, figures, logs, failed: book.violations > 0, planted };
  } finally {
    await options.plants?.close?.().catch(() => {});
    await Promise.all(instances.map((i) => i.kill().catch(() => {})));
    await Promise.allSettled(cliRuns);
    await store.close().catch(() => {});
    await oidc?.close().catch(() => {});
    await emu.close();
  }
}

/** The report: figures, the invariant table, violations, and how to replay. */
export function formatReport(r: SoakResult): string {
  const f = r.figures;
  const kv = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  const lines = [
    `soak ${r.failed ? "FAILED" : "passed"}: seed ${r.params.seed}, schedule ${r.hash}, store ${r.params.store}`,
    `simulated days ${f.simulatedDays} in ${f.steps} steps (${f.realSeconds} s real); instances ${f.instances}; credentials ${kv(f.credentials)}`,
    `kills: serve ${f.serveKills} (crashes the harness did not cause: ${f.serveCrashes.length}), CLI workers ${f.cliKills} of ${f.cliWorkers}; store outages ${f.storeOutages}; LINE fault rules ${kv(f.lineFaultRules)} (${f.lineFaultHits} requests hit)`,
    ...(f.oauth ? [`OAuth (oidc-provider, rotation on): ${f.oauth.grants} grants, ${f.oauth.refreshes} refreshes presented; proxy faults ${kv(f.oauth.faultRules)} (${f.oauth.faultHits} requests hit); answers held for a kill ${f.oauth.held} (killed: ${f.oauth.heldKills.join(", ") || "none"}), lost ${f.oauth.lostAnswers}; grants the provider ended ${f.oauth.grantsEnded}; logins ${f.oauth.logins}`] : []),
    `LINE: ${f.tokenRequestsAtLine} token requests, issued ${kv(f.issuedAtLine)}; reads ${f.readsOk} ok / ${f.readsFailed} failed; webhook events accepted ${f.webhookEventsAccepted}, handled ${f.webhookEventsHandled}, handled twice ${f.webhookDuplicates}; deliveries ${f.deliveries}, redeliveries ${f.redeliveries}, replays ${f.replays}`,
    "",
    r.book.table(),
  ];
  for (const c of f.serveCrashes.slice(0, 3)) lines.push(`  crash: ${c}`);
  const details = r.book.details();
  if (details.length > 0) lines.push("", "violations:", ...details.map((d) => `  ${d}`));
  const noisy = [...r.logs].sort((a, b) => b[1] - a[1]).slice(0, 8);
  if (noisy.length > 0) lines.push("", "kagiya serve warnings and errors (by message):", ...noisy.map(([m, n]) => `  ${n} × ${m}`));
  if (r.failed) lines.push("", `replay: npm run soak -- --seed ${r.params.seed} --days ${r.params.days} --instances ${r.params.instances} --channels ${r.params.channels} --store ${r.params.store} --step-seconds ${r.params.stepSeconds}`);
  return lines.join("\n");
}

export { DISTURBANCE_WINDOW_MS };
