/**
 * Whether to retry a LINE request, and after how long: a pure function of what the attempt ended
 * with, the request's policy, the attempts and retries made, Retry-After, the retry budget and the
 * jitter source. ./http.ts asks it after every failed attempt; nothing here sends or sleeps.
 *
 * Policies (never on a 4xx other than 429, never on a bad 2xx body unless re-sending is harmless):
 * - `idempotent` (listing, verify, revoke, stateless issue): network errors, timeouts, 5xx, 429;
 * - `unsafe` (v2.1 and short-lived issue): only failures that surely did not reach LINE (connect
 *   refused, DNS, TLS) and 429; a timeout, reset or 5xx is not retried, for ./recovery.ts to check
 *   the valid key IDs before any new attempt;
 * - `messaging` (reply, push): network errors, timeouts and 5xx; not 429 (LINE's guidance for
 *   X-Line-Retry-Key, and reply tokens expire within a minute).
 */
import type { LineDelivery } from "./errors.ts";

/** Which failures a request may be retried on; see the module comment. */
export type RetryPolicy = "idempotent" | "unsafe" | "messaging";

/** How an attempt failed, as far as retrying is concerned. */
export type AttemptFailure =
  /** LINE answered with a status the request does not accept. */
  | { kind: "status"; status: number }
  /** LINE answered with an accepted status, but the body was cut off or too large. */
  | { kind: "unreadable_body" }
  /** No answer: `not_sent` when the request surely never reached LINE. */
  | { kind: "network"; delivery: Exclude<LineDelivery, "answered"> }
  /** A deadline passed (the request may have been sent). */
  | { kind: "timeout" };

/** The retry budget: the client's `retry` options, resolved. */
export interface RetryBudget {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  /** Longest Retry-After slept through, ms; a longer one ends the call. */
  readonly maxRetryAfterMs: number;
  /** First backoff ceiling, ms. */
  readonly baseMs: number;
  /** Largest backoff ceiling, ms. */
  readonly capMs: number;
}

/** Everything the decision depends on. */
export interface RetryInput {
  policy: RetryPolicy;
  failure: AttemptFailure;
  /** Attempts made, the failed one included (1 after the first). */
  attempt: number;
  /** Retries made before this decision (a skew re-send is not one); the backoff grows with them. */
  retries: number;
  /** The request carries an X-Line-Retry-Key, so LINE drops a second copy. */
  hasRetryKey: boolean;
  /** LINE's Retry-After, already in ms against LINE's clock (see parseRetryAfter); undefined when absent. */
  retryAfterMs: number | undefined;
  budget: RetryBudget;
  /** Uniform random in [0, 1): the full-jitter source. */
  random: () => number;
}

/** The decision, with the reason in words a test (or a log) can check. */
export type RetryDecision =
  | { retry: true; waitMs: number; why: "retry_after" | "backoff" }
  | { retry: false; why: "policy" | "attempts_exhausted" | "retry_after_too_long" };

/**
 * Full-jitter backoff before retry number `retry` (1 for the first retry), ms:
 * random() × min(capMs, baseMs × 2^(retry-1)), rounded down.
 *
 * @example
 * ```ts
 * backoffMs(3, { baseMs: 250, capMs: 8000 }, () => 0.5); // 500
 * ```
 */
export function backoffMs(retry: number, budget: Pick<RetryBudget, "baseMs" | "capMs">, random: () => number): number {
  const ceiling = Math.min(budget.capMs, budget.baseMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

/** Whether the policy allows another attempt after this failure, budget aside. */
function allowed(policy: RetryPolicy, failure: AttemptFailure, hasRetryKey: boolean): boolean {
  switch (failure.kind) {
    case "status":
      if (failure.status >= 500) return policy !== "unsafe";
      if (failure.status === 429) return policy !== "messaging";
      return false;
    case "unreadable_body":
      // LINE acted on it; only a call that cannot duplicate anything may be re-sent.
      return policy === "idempotent" || hasRetryKey;
    case "network":
      return failure.delivery === "not_sent" || policy !== "unsafe";
    case "timeout":
      return policy !== "unsafe";
  }
}

/**
 * Decides whether to retry after a failed attempt and how long to wait first: Retry-After when
 * LINE sent one (and it is within the budget), else full-jitter backoff.
 *
 * @example
 * ```ts
 * decideRetry({ policy: "unsafe", failure: { kind: "network", delivery: "not_sent" }, attempt: 1, retries: 0,
 *   hasRetryKey: false, retryAfterMs: undefined, budget: config.retry, random: () => 0.5 });
 * // { retry: true, waitMs: 125, why: "backoff" }
 * ```
 */
export function decideRetry(input: RetryInput): RetryDecision {
  const { policy, failure, attempt, retries, hasRetryKey, retryAfterMs, budget, random } = input;
  if (!allowed(policy, failure, hasRetryKey)) return { retry: false, why: "policy" };
  if (attempt >= budget.maxAttempts) return { retry: false, why: "attempts_exhausted" };
  // Only a 429 or 5xx answer can carry a Retry-After that applies to this call.
  const wait = failure.kind === "status" ? retryAfterMs : undefined;
  if (wait !== undefined) {
    if (wait > budget.maxRetryAfterMs) return { retry: false, why: "retry_after_too_long" };
    return { retry: true, waitMs: wait, why: "retry_after" };
  }
  return { retry: true, waitMs: backoffMs(retries + 1, budget, random), why: "backoff" };
}
