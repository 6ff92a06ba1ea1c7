/**
 * Issuing a v2.1 token is not idempotent: a request that times out or breaks after it was sent
 * may have created a token at LINE that nobody will ever read. Blindly re-sending it can leak
 * tokens against the channel's cap of 30. The rule kagiya follows:
 *
 *   after an ambiguous issue failure, list the channel's valid key IDs before any new attempt;
 *   a listed key ID the caller does not know is an orphan, reported before the next attempt.
 *
 * {@link issueWithRecovery} is that rule as one call. The TokenManager drives it with the key IDs
 * its store knows and an `onOrphans` callback that records orphans (they count against the budget
 * until they expire) and may throw to stop before the next attempt (budget exhausted).
 */
import { InvalidInputError } from "../../core/errors.ts";
import type { LineAssertionCredentials } from "./assertion.ts";
import { LineError, LineIssueAmbiguousError } from "./errors.ts";
import type { LineHttp } from "./http.ts";
import { issueChannelToken, listValidKeyIds, type ChannelAccessTokenV21, type IssueChannelTokenOptions } from "./tokens.ts";

/** Options of {@link issueWithRecovery}. */
export interface IssueWithRecoveryOptions extends IssueChannelTokenOptions {
  /**
   * Key IDs the caller already knows for this channel (its stored tokens, revoked or not, and
   * orphans already recorded). When omitted, LINE's list is fetched once before the first attempt
   * and serves as the known set (one extra request).
   */
  knownKeyIds?: Iterable<string>;
  /** Issue attempts in all (default: the client's `retry.maxAttempts`). */
  maxIssueAttempts?: number;
  /**
   * Awaited with the new orphan key IDs found after an ambiguous failure, before any new attempt.
   * Record them; throw (e.g. a budget error) to stop: the error is passed through. LINE does not
   * say when an orphan expires: it was asked for `tokenExpSeconds` (default 30 days) at the failed
   * attempt, so count it until then.
   */
  onOrphans?: (keyIds: string[]) => void | Promise<void>;
}

/** What {@link issueWithRecovery} returns. */
export interface IssueWithRecoveryResult {
  token: ChannelAccessTokenV21;
  /** Orphans found on the way (also given to `onOrphans`). */
  orphanKeyIds: string[];
  /** Issue requests made (1 when the first succeeded). */
  issueAttempts: number;
}

/**
 * Issues a v2.1 token, recovering from ambiguous failures without leaking tokens:
 * 1. (only without `knownKeyIds`) list the valid key IDs as the known set;
 * 2. issue: success returns; a definite failure (4xx, 429 past its retries) is thrown as is;
 * 3. an ambiguous failure (timeout, reset, 5xx, unreadable 200): list the valid key IDs, report
 *    unknown ones through `onOrphans`, wait (Retry-After or full-jitter backoff), go to 2;
 * 4. out of attempts, or the listing failed: throw {@link LineIssueAmbiguousError} with the
 *    orphans found (`keyIdsChecked: false` when the listing failed: reconcile before issuing again).
 *
 * A token LINE creates after the listing (slow processing after a timeout) is not seen here:
 * periodic reconciliation finds it.
 *
 * @example
 * ```ts
 * const { token, orphanKeyIds } = await issueWithRecovery(http, creds, {
 *   knownKeyIds: await store.keyIds(channelId),
 *   onOrphans: (ids) => store.recordOrphans(channelId, ids),
 * });
 * ```
 */
export async function issueWithRecovery(http: LineHttp, creds: LineAssertionCredentials, options: IssueWithRecoveryOptions = {}): Promise<IssueWithRecoveryResult> {
  const maxIssueAttempts = options.maxIssueAttempts ?? http.config.retry.maxAttempts;
  if (!Number.isInteger(maxIssueAttempts) || maxIssueAttempts < 1) {
    throw new InvalidInputError("maxIssueAttempts must be an integer of at least 1.", { field: "maxIssueAttempts" });
  }
  const issueOptions: IssueChannelTokenOptions = {};
  if (options.tokenExpSeconds !== undefined) issueOptions.tokenExpSeconds = options.tokenExpSeconds;
  if (options.signal !== undefined) issueOptions.signal = options.signal;
  const listOptions = options.signal !== undefined ? { signal: options.signal } : {};

  const known = new Set(options.knownKeyIds ?? (await listValidKeyIds(http, creds, listOptions)).kids);
  const orphanKeyIds: string[] = [];
  for (let attempt = 1; ; attempt++) {
    let failure: LineError;
    try {
      const token = await issueChannelToken(http, creds, issueOptions);
      return { token, orphanKeyIds, issueAttempts: attempt };
    } catch (e) {
      if (!(e instanceof LineError) || !e.ambiguous) throw e;
      failure = e;
    }
    const fields = { endpoint: failure.endpoint, attempts: attempt, delivery: "ambiguous" as const, status: failure.status, requestId: failure.requestId, retryAfterMs: failure.retryAfterMs };
    let kids: string[];
    try {
      kids = (await listValidKeyIds(http, creds, listOptions)).kids;
    } catch {
      throw new LineIssueAmbiguousError(
        `Issuing a token failed ambiguously (${failure.code}) and LINE's list of valid key IDs could not be read to check for a token issued anyway; reconcile the channel before issuing again.`,
        { ...fields, orphanKeyIds, keyIdsChecked: false, lastErrorCode: failure.code },
      );
    }
    const fresh = kids.filter((k) => !known.has(k));
    for (const k of fresh) known.add(k);
    if (fresh.length > 0) {
      orphanKeyIds.push(...fresh);
      await options.onOrphans?.(fresh);
    }
    const wait = failure.retryAfterMs;
    if (attempt >= maxIssueAttempts || (wait !== undefined && wait > http.config.retry.maxRetryAfterMs)) {
      throw new LineIssueAmbiguousError(
        `Issuing a token failed ambiguously ${attempt} time(s) (last: ${failure.code}); ${orphanKeyIds.length} orphan key ID(s) found, which count against the channel's 30-token cap until they expire.`,
        { ...fields, orphanKeyIds, keyIdsChecked: true, lastErrorCode: failure.code },
      );
    }
    await http.pause(wait ?? http.backoffMs(attempt), options.signal, { endpoint: failure.endpoint, attempts: attempt, delivery: "ambiguous" });
  }
}
