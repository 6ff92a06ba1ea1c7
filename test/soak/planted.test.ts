// Honesty: each invariant of the soak catches a planted violation. One quiet run (no faults of its
// own) where test/soak/plants.ts breaks one thing per invariant, each on its own channel or
// instance: a token issued behind kagiya's back, 31 valid tokens at LINE, a lost store row, a
// revoked API key, LINE forgetting revocations, a broker without the API-key stale-if-error window
// read during an outage, an instance on `--inbox memory` SIGKILLed with events accepted, and a
// LINE WORKS app's grant and an OAuth grant each rolled back to a spent refresh token.
import { test } from "node:test";
import assert from "node:assert/strict";
import { INVARIANTS } from "./invariants.ts";
import { createPlants, PLANTED_PARAMS } from "./plants.ts";
import { formatReport, runSoak } from "./run.ts";
import { redisSkip } from "../store/services.ts";

test("every invariant fails when its violation is planted, and names where", { skip: await redisSkip() }, async () => {
  const result = await runSoak(PLANTED_PARAMS, { quiet: true, plants: createPlants() });
  const report = formatReport(result);
  assert.equal(result.failed, true, report);
  for (const [name] of INVARIANTS) {
    const target = result.planted[name];
    assert.ok(target !== undefined, `${name}: the plant did not happen\n${report}`);
    const row = result.book.get(name);
    assert.ok(row.violations > 0, `${name}: planted on ${target}, not caught\n${report}`);
    assert.ok(row.details.some((d) => d.includes(target)), `${name}: no violation names ${target}\n${report}`);
  }
  // Both halves of refresh-tokens: the stored grant is not the newest, and the spent token is sent again.
  const rt = result.book.get("refresh-tokens").details.filter((d) => d.includes(result.planted["refresh-tokens"]!));
  assert.ok(rt.some((d) => d.includes("stored grant holds refresh token #")), report);
  assert.ok(rt.some((d) => d.includes("spent refresh token was sent again")), report);
  // The same for the OAuth grant, with the provider as witness; the provider ended the grant, and it was logged in again.
  const grant = result.planted["refresh-tokens (OAuth)"];
  assert.ok(grant !== undefined, `the OAuth plant did not happen\n${report}`);
  const og = result.book.get("refresh-tokens").details.filter((d) => d.includes(`grant ${grant}:`));
  assert.ok(og.some((d) => d.includes("stored grant holds refresh token #")), report);
  assert.ok(og.some((d) => d.includes("spent refresh token was sent again")), report);
  assert.ok((result.book.get("refresh-tokens").notes.get("OAuth: recovered by a new login") ?? 0) >= 1, report);
});
