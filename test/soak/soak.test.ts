// The soak, short: a fixed seed over half a simulated day on Redis — two `kagiya serve` processes
// and CLI workers, LINE faults, SIGKILLs and store outages from the seed — and every invariant holds.
// The long runs are `npm run soak` (docs/development.md).
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildSchedule } from "./schedule.ts";
import { formatReport, runSoak } from "./run.ts";
import { redisSkip } from "../store/services.ts";

const PARAMS = { seed: 182, days: 0.5, instances: 2, channels: 6, store: "redis", stepSeconds: 3600, stepMs: 800 } as const;

test("the same seed gives the same schedule (and hash); another seed another", () => {
  const a = buildSchedule(PARAMS);
  assert.deepEqual(buildSchedule(PARAMS), a);
  assert.notEqual(buildSchedule({ ...PARAMS, seed: PARAMS.seed + 1 }).hash, a.hash);
  assert.notEqual(buildSchedule({ ...PARAMS, quiet: true }).hash, a.hash);
  // The fixed seed of the run below has every kind of trouble in it.
  const steps = a.steps;
  assert.ok(steps.some((s) => s.kills.length > 0), "a SIGKILL");
  assert.ok(steps.some((s) => s.outage !== null), "a store outage");
  assert.ok(steps.some((s) => s.faults.length > 0), "a LINE fault");
  assert.ok(steps.some((s) => s.deliveries.some((d) => d.redeliverAfter !== null)), "a replayed delivery");
});

test(`soak seed ${PARAMS.seed}: ${PARAMS.days} simulated days, ${PARAMS.instances} instances, ${PARAMS.channels} credentials on Redis — no invariant violated`, { skip: await redisSkip() }, async () => {
  const result = await runSoak(PARAMS);
  const report = formatReport(result);
  assert.equal(result.failed, false, report);
  const f = result.figures;
  // It did what it says: tokens issued and read, events handled, kills made.
  assert.ok(f.readsOk > 50, report);
  assert.ok(f.webhookEventsAccepted > 20 && f.webhookEventsHandled === f.webhookEventsAccepted, report);
  assert.ok(f.serveKills >= 1 && f.storeOutages >= 1, report);
  // The LINE WORKS app on rotating refresh tokens refreshed by them.
  assert.ok(f.credentials["line-works refresh-token rotation on"] === 1, report);
  assert.ok((result.book.get("refresh-tokens").notes.get("refreshes accepted") ?? 0) > 3, report);
  for (const name of ["cap-30", "reads-served", "one-issuance-per-refresh", "webhooks-handled", "refresh-tokens"] as const) assert.ok(result.book.get(name).checks > 0, `${name} was checked: ${report}`);
});
