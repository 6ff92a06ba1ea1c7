// The soak, short: a fixed seed over half a simulated day on Redis — two `kagiya serve` processes
// and CLI workers, LINE faults, SIGKILLs and store outages from the seed, an OAuth grant at
// oidc-provider with an answer lost after the provider rotated — and every invariant holds.
// The long runs are `npm run soak` (docs/development.md).
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildSchedule } from "./schedule.ts";
import { formatReport, runSoak } from "./run.ts";
import { redisSkip } from "../store/services.ts";

const PARAMS = { seed: 27, days: 0.5, instances: 2, channels: 6, store: "redis", stepSeconds: 3600, stepMs: 800 } as const;

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
  assert.ok(steps.some((s) => s.providerFaults.some((f) => f.name === "lost-refresh")), "an OAuth answer lost after the provider rotated");
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
  // The OAuth grant refreshed at oidc-provider; an answer the provider rotated was lost on the way:
  // the spent token, sent again, was refused (allowed after a lost answer), the provider ended the
  // grant, and a new login recovered it.
  const rt = result.book.get("refresh-tokens").notes;
  assert.ok(f.credentials["oauth2"] === 1 && f.oauth !== null, report);
  assert.ok((rt.get("OAuth refreshes taken") ?? 0) >= 2, report);
  assert.ok(f.oauth!.lostAnswers >= 1, report);
  assert.ok([...rt.keys()].some((k) => k.startsWith("OAuth: spent token sent again once after a")), report);
  assert.ok((rt.get("OAuth: recovered by a new login") ?? 0) >= 1, report);
  for (const name of ["cap-30", "reads-served", "one-issuance-per-refresh", "webhooks-handled", "refresh-tokens"] as const) assert.ok(result.book.get(name).checks > 0, `${name} was checked: ${report}`);
});
