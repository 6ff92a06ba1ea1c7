/**
 * Per-credential health in one process: failures, the backoff that follows them (honouring
 * Retry-After), the last error, and what the next issue must do first.
 *
 * @module
 */
import type { KagiyaError } from "../core/errors.ts";
import { ReauthRequiredError, TokenBudgetExhaustedError, TokenUnavailableError } from "./errors.ts";
import type { IssueReason } from "./options.ts";
import type { TokenObserver } from "./types.ts";
import { classifyFailure, type UpstreamFailure } from "./upstream.ts";

/** One credential's health. */
export interface Health {
  failures: number;
  /** No request to the provider for this credential before this time. */
  retryAt: number;
  lastError: { at: number; code: string; message: string } | null;
  lastRefreshAt: number | null;
  /** An issue attempt failed ambiguously: list valid key IDs before the next one. */
  checkKeyIds: boolean;
  reason: IssueReason | null;
  lastReconcileAt: number | null;
  /** The credential's cap when it was refused for it (0: no cap known), for the error it is shown. */
  capLimit: number;
  /** Why the last attempt found the grant unusable (ReauthRequiredError), for the error it is shown. */
  reauth: "refused" | "missing" | null;
}

/** What the book needs to decide a backoff. */
export interface HealthOptions {
  now: () => number;
  random: () => number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  observer: TokenObserver;
}

/** Health of every credential this process has touched. */
export class HealthBook {
  readonly #entries = new Map<string, Health>();
  readonly #o: HealthOptions;

  constructor(options: HealthOptions) {
    this.#o = options;
  }

  /** The credential's health, created on first use. */
  of(id: string): Health {
    let h = this.#entries.get(id);
    if (h === undefined) {
      h = { failures: 0, retryAt: 0, lastError: null, lastRefreshAt: null, checkKeyIds: false, reason: null, lastReconcileAt: null, capLimit: 0, reauth: null };
      this.#entries.set(id, h);
    }
    return h;
  }

  /** The credential's health if it has any. */
  peek(id: string): Health | undefined {
    return this.#entries.get(id);
  }

  /** Records a failure and sets the backoff: Retry-After when given, else exponential with equal jitter. */
  fail(id: string, f: Pick<UpstreamFailure, "code" | "message" | "retryAfterMs">): Health {
    const h = this.of(id);
    const now = this.#o.now();
    h.failures++;
    const backoff = Math.min(this.#o.backoffMaxMs, this.#o.backoffBaseMs * 2 ** Math.min(h.failures - 1, 30));
    const delay = f.retryAfterMs ?? backoff / 2 + (backoff / 2) * this.#o.random();
    h.retryAt = now + Math.ceil(delay);
    h.lastError = { at: now, code: f.code, message: f.message };
    this.#o.observer.failed?.(id, f.code);
    return h;
  }

  /** A success: the backoff ends. */
  succeed(id: string, at: number): void {
    const h = this.of(id);
    h.failures = 0;
    h.retryAt = 0;
    h.reauth = null;
    h.lastRefreshAt = at;
    h.reason = null;
  }

  /** An upstream error as the error get() rejects with, after recording it. */
  upstreamFailed(id: string, error: unknown): KagiyaError {
    if (error instanceof TokenBudgetExhaustedError) return error;
    const f = classifyFailure(error);
    if (f.ambiguous) this.of(id).checkKeyIds = true;
    const h = this.fail(id, f);
    return new TokenUnavailableError(id, h.retryAt, f, { cause: error });
  }

  /** The error for a credential that is backing off. */
  unavailable(id: string): KagiyaError {
    const h = this.of(id);
    const code = h.lastError?.code;
    if (code === "ERR_OAUTH_REAUTH_REQUIRED") return new ReauthRequiredError(id, h.reauth ?? "refused");
    if (code === "ERR_TOKEN_BUDGET_EXHAUSTED" || code === "ERR_LINE_TOKEN_LIMIT") {
      return new TokenBudgetExhaustedError(id, h.capLimit, h.capLimit, { lineRefused: code === "ERR_LINE_TOKEN_LIMIT" });
    }
    return new TokenUnavailableError(id, h.retryAt, { code: h.lastError?.code ?? null, message: h.lastError?.message ?? "LINE is failing" });
  }

  clear(): void {
    this.#entries.clear();
  }
}
