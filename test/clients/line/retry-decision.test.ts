// The retry decision on its own: a pure function, so a table of cases and no fetch, no emulator.
import { test } from "node:test";
import assert from "node:assert/strict";
import { backoffMs, decideRetry, type AttemptFailure, type RetryDecision, type RetryInput, type RetryPolicy } from "../../../src/clients/line/retry.ts";

const BUDGET = { maxAttempts: 4, maxRetryAfterMs: 60_000, baseMs: 250, capMs: 8_000 };
const half = () => 0.5;

const status = (s: number): AttemptFailure => ({ kind: "status", status: s });
const notSent: AttemptFailure = { kind: "network", delivery: "not_sent" };
const reset: AttemptFailure = { kind: "network", delivery: "ambiguous" };
const timeout: AttemptFailure = { kind: "timeout" };
const unreadable: AttemptFailure = { kind: "unreadable_body" };
const backoff = (waitMs: number): RetryDecision => ({ retry: true, waitMs, why: "backoff" });
const after = (waitMs: number): RetryDecision => ({ retry: true, waitMs, why: "retry_after" });
const no = (why: "policy" | "attempts_exhausted" | "retry_after_too_long"): RetryDecision => ({ retry: false, why });

type Case = [name: string, policy: RetryPolicy, failure: AttemptFailure, over: Partial<RetryInput>, expected: RetryDecision];

const CASES: Case[] = [
  // 5xx: retried unless the call may not be repeated blindly (v2.1 issue).
  ["503 idempotent, first attempt", "idempotent", status(503), {}, backoff(125)],
  ["500 messaging", "messaging", status(500), {}, backoff(125)],
  ["502 unsafe: recovery checks key IDs instead", "unsafe", status(502), {}, no("policy")],
  // 429: everyone but messaging; Retry-After wins over backoff, within the budget.
  ["429 idempotent, no Retry-After", "idempotent", status(429), {}, backoff(125)],
  ["429 unsafe, Retry-After 7 s", "unsafe", status(429), { retryAfterMs: 7_000 }, after(7_000)],
  ["429 Retry-After exactly the budget", "idempotent", status(429), { retryAfterMs: 60_000 }, after(60_000)],
  ["429 Retry-After past the budget", "idempotent", status(429), { retryAfterMs: 60_001 }, no("retry_after_too_long")],
  ["429 Retry-After 0", "idempotent", status(429), { retryAfterMs: 0 }, after(0)],
  ["429 messaging (X-Line-Retry-Key guidance)", "messaging", status(429), { retryAfterMs: 1_000 }, no("policy")],
  ["503 with Retry-After", "idempotent", status(503), { retryAfterMs: 2_000 }, after(2_000)],
  // Other 4xx: never.
  ["400 idempotent", "idempotent", status(400), {}, no("policy")],
  ["401 messaging", "messaging", status(401), {}, no("policy")],
  ["404 unsafe", "unsafe", status(404), {}, no("policy")],
  // No answer at all.
  ["refused/DNS (not_sent) unsafe: surely never reached LINE", "unsafe", notSent, {}, backoff(125)],
  ["not_sent messaging", "messaging", notSent, {}, backoff(125)],
  ["reset after sending, unsafe", "unsafe", reset, {}, no("policy")],
  ["reset after sending, idempotent", "idempotent", reset, {}, backoff(125)],
  ["timeout unsafe", "unsafe", timeout, {}, no("policy")],
  ["timeout messaging", "messaging", timeout, {}, backoff(125)],
  // An accepted status whose body was lost: only when re-sending cannot duplicate.
  ["unreadable 200 idempotent", "idempotent", unreadable, {}, backoff(125)],
  ["unreadable 200 messaging with a retry key", "messaging", unreadable, { hasRetryKey: true }, backoff(125)],
  ["unreadable 200 messaging without a retry key", "messaging", unreadable, {}, no("policy")],
  ["unreadable 200 unsafe", "unsafe", unreadable, {}, no("policy")],
  // The attempt budget.
  ["last attempt used", "idempotent", status(503), { attempt: 4, retries: 3 }, no("attempts_exhausted")],
  ["maxAttempts 1 disables retries", "unsafe", notSent, { budget: { ...BUDGET, maxAttempts: 1 } }, no("attempts_exhausted")],
  ["policy refusal is reported before the budget", "unsafe", status(500), { attempt: 4 }, no("policy")],
  // Backoff grows with retries made (not attempts: a skew re-send is not a retry), up to the cap.
  ["second retry", "idempotent", status(503), { attempt: 2, retries: 1 }, backoff(250)],
  ["third retry", "idempotent", status(503), { attempt: 3, retries: 2 }, backoff(500)],
  ["after a skew re-send: attempt 3, first retry", "idempotent", status(503), { attempt: 3, retries: 0 }, backoff(125)],
  ["capped", "idempotent", status(503), { attempt: 2, retries: 9, budget: { ...BUDGET, maxAttempts: 20 } }, backoff(4_000)],
  ["full jitter: random() near 1", "idempotent", reset, { random: () => 0.999 }, backoff(249)],
  ["full jitter: random() 0", "idempotent", reset, { random: () => 0 }, backoff(0)],
  // A Retry-After read off an answer never applies to a failure without one.
  ["Retry-After ignored on a timeout", "idempotent", timeout, { retryAfterMs: 30_000 }, backoff(125)],
];

test("decideRetry: every case of the table", () => {
  for (const [name, policy, failure, over, expected] of CASES) {
    const input: RetryInput = { policy, failure, attempt: 1, retries: 0, hasRetryKey: false, retryAfterMs: undefined, budget: BUDGET, random: half, ...over };
    assert.deepEqual(decideRetry(input), expected, name);
  }
});

test("decideRetry is pure: the same input gives the same answer and the input is not written", () => {
  const input: RetryInput = Object.freeze({ policy: "idempotent", failure: Object.freeze(status(503)), attempt: 2, retries: 1, hasRetryKey: false, retryAfterMs: undefined, budget: Object.freeze({ ...BUDGET }), random: half });
  assert.deepEqual(decideRetry(input), decideRetry(input));
});

test("backoffMs: random() x min(cap, base x 2^(n-1)), rounded down", () => {
  const rows: Array<[retry: number, base: number, cap: number, random: number, expected: number]> = [
    [1, 250, 8_000, 0.5, 125],
    [2, 250, 8_000, 0.5, 250],
    [6, 250, 8_000, 0.5, 4_000],
    [7, 250, 8_000, 0.5, 4_000],
    [2, 1_000, 1_500, 0.999, 1_498],
    [1, 0, 8_000, 0.7, 0],
  ];
  for (const [retry, baseMs, capMs, r, expected] of rows) assert.equal(backoffMs(retry, { baseMs, capMs }, () => r), expected, `retry ${retry}, base ${baseMs}, cap ${capMs}, random ${r}`);
});
