import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidInputError } from "../../src/core/errors.ts";
import { DEFAULT_TOKEN_POLICY, planRefreshAt, resolveTokenPolicy } from "../../src/tokens/policy.ts";

test("the documented defaults: 7 days, refresh at 70-80 %, 5 minutes minimum, 10 minutes grace, 3 live tokens", () => {
  assert.deepEqual({ ...resolveTokenPolicy() }, { lifetimeSeconds: 604800, refreshMin: 0.7, refreshMax: 0.8, minRemainingSeconds: 300, revokeGraceSeconds: 600, maxLiveTokens: 3 });
  assert.ok(Object.isFrozen(DEFAULT_TOKEN_POLICY) && Object.isFrozen(resolveTokenPolicy({})));
  assert.equal(resolveTokenPolicy({ lifetimeSeconds: 2592000 }).lifetimeSeconds, 2592000);
});

test("out-of-range or unknown policy fields are refused with ERR_TOKEN_POLICY_INVALID naming the field", () => {
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ lifetimeSeconds: 2592001 }, "lifetimeSeconds"],
    [{ lifetimeSeconds: 59 }, "lifetimeSeconds"],
    [{ lifetimeSeconds: 3600.5 }, "lifetimeSeconds"],
    [{ refreshMin: 0.9, refreshMax: 0.8 }, "refreshMin/refreshMax"],
    [{ refreshMax: 1 }, "refreshMin/refreshMax"],
    [{ lifetimeSeconds: 1000, minRemainingSeconds: 300 }, "minRemainingSeconds"],
    [{ revokeGraceSeconds: -1 }, "revokeGraceSeconds"],
    [{ maxLiveTokens: 31 }, "maxLiveTokens"],
    [{ maxLiveTokens: "3" }, "maxLiveTokens"],
    [{ lifetime: 3600 }, "lifetime"],
  ];
  for (const [input, field] of bad) {
    assert.throws(() => resolveTokenPolicy(input as never), (e: unknown) => e instanceof InvalidInputError && e.code === "ERR_TOKEN_POLICY_INVALID" && e.field === field, JSON.stringify(input));
  }
});

test("the refresh point is jittered within [refreshMin, refreshMax] of the lifetime and never past the last moment a token may be handed out", () => {
  const p = resolveTokenPolicy();
  const issued = 1_000_000;
  const expires = issued + p.lifetimeSeconds * 1000;
  assert.equal(planRefreshAt(p, issued, expires, 0), issued + 0.7 * p.lifetimeSeconds * 1000);
  assert.equal(planRefreshAt(p, issued, expires, 0.5), issued + 0.75 * p.lifetimeSeconds * 1000);
  assert.ok(planRefreshAt(p, issued, expires, 0.999999) <= issued + 0.8 * p.lifetimeSeconds * 1000);
  // LINE granted less than asked: the refresh still comes before the minimum remaining.
  const short = issued + 400_000;
  assert.ok(planRefreshAt(p, issued, short, 0.99) <= short - 300_000);
});
