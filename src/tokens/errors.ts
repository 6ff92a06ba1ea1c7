import { KagiyaError } from "../core/errors.ts";

/**
 * No valid token can be handed out right now: LINE is failing (or was failing moments ago and
 * the channel is backing off) and no stored token has enough life left. `retryAt` says when the
 * manager will next ask LINE (epoch ms, the manager's clock). Code `ERR_TOKEN_UNAVAILABLE`.
 *
 * @example
 * ```ts
 * try { await manager.get("1234567890"); }
 * catch (e) { if (e instanceof TokenUnavailableError) scheduleRetry(e.retryAt); }
 * ```
 */
export class TokenUnavailableError extends KagiyaError {
  readonly channelId: string;
  readonly retryAt: number;
  /** Code of the upstream failure that opened the circuit, e.g. `ERR_LINE_HTTP`. */
  readonly upstreamCode: string | null;
  constructor(channelId: string, retryAt: number, upstream: { code: string | null; message: string }, options?: { cause?: unknown }) {
    super("ERR_TOKEN_UNAVAILABLE", `no valid access token for channel ${channelId}: ${upstream.message} (next attempt at ${new Date(retryAt).toISOString()})`, options);
    this.channelId = channelId;
    this.retryAt = retryAt;
    this.upstreamCode = upstream.code;
  }
}

/**
 * Issuing would exceed LINE's cap of 30 valid tokens per channel (orphans included), so kagiya
 * did not ask. Revoke tokens (`kagiya token revoke CHANNEL --all`) or wait for some to expire.
 * Code `ERR_TOKEN_BUDGET_EXHAUSTED`.
 *
 * @example
 * ```ts
 * try { await manager.issue("1234567890"); }
 * catch (e) { if (e instanceof TokenBudgetExhaustedError) console.error(e.used, e.limit); }
 * ```
 */
export class TokenBudgetExhaustedError extends KagiyaError {
  readonly channelId: string;
  readonly used: number;
  readonly limit: number;
  constructor(channelId: string, used: number, limit: number, options?: { cause?: unknown; lineRefused?: boolean }) {
    super(
      "ERR_TOKEN_BUDGET_EXHAUSTED",
      options?.lineRefused
        ? `LINE refused a new token for channel ${channelId}: the cap of ${limit} valid tokens is reached (run kagiya token reconcile ${channelId}, then revoke unused tokens)`
        : `channel ${channelId} has ${used} of ${limit} valid tokens (orphans included); not asking LINE for another (revoke some with kagiya token revoke ${channelId} KEY_ID, or wait for expiry)`,
      options,
    );
    this.channelId = channelId;
    this.used = used;
    this.limit = limit;
  }
}

/**
 * No token with that key ID is known for the channel. Code `ERR_TOKEN_NOT_FOUND`.
 *
 * @example
 * ```ts
 * try { await manager.revoke("1234567890", "nope"); }
 * catch (e) { if (e instanceof TokenNotFoundError) console.error(e.message); }
 * ```
 */
export class TokenNotFoundError extends KagiyaError {
  constructor(channelId: string, keyId: string) {
    super("ERR_TOKEN_NOT_FOUND", `channel ${channelId} has no token with key ID ${JSON.stringify(keyId.slice(0, 80))} (list them with kagiya token list ${channelId})`);
  }
}

/**
 * The credential's kind keeps no ledger of valid tokens at its provider (LINE stateless tokens:
 * no cap, no listing), so there is nothing to reconcile. Code `ERR_KIND_NO_LEDGER`.
 *
 * @example
 * ```ts
 * try { await manager.reconcile(id); }
 * catch (e) { if (e instanceof NoLedgerError) console.log(`${e.kind}: nothing to reconcile`); }
 * ```
 */
export class NoLedgerError extends KagiyaError {
  readonly kind: string;
  constructor(credentialId: string, kind: string) {
    super("ERR_KIND_NO_LEDGER", `credential ${credentialId} is of kind ${kind}, whose provider keeps no list of valid tokens to reconcile against`);
    this.kind = kind;
  }
}

/**
 * A kind's provider refused the credential's grant (OAuth `invalid_grant` on a refresh): the
 * refresh token is spent, revoked or expired. Kinds throw it (with the provider's error as
 * `cause`); the engine then adopts a newer grant another process stored, or starts over without
 * one where the kind can (LINE WORKS: a fresh assertion), or marks the grant `reauth_required`.
 * Code `ERR_GRANT_INVALID`.
 *
 * @example
 * ```ts
 * catch (e) { if (isInvalidGrant(e)) throw new InvalidGrantError(credential.channelId, { cause: e }); throw e; }
 * ```
 */
export class InvalidGrantError extends KagiyaError {
  readonly credentialId: string;
  constructor(credentialId: string, options?: { cause?: unknown }) {
    super("ERR_GRANT_INVALID", `the provider refused the stored grant (refresh token) of ${credentialId}`, options);
    this.credentialId = credentialId;
  }
}

/**
 * The credential's grant is gone: the provider refused it and nothing newer was stored, or none
 * was ever stored, and its kind cannot start over on its own. Someone has to log in again (for an
 * OAuth grant, `kagiya oauth login`); until then `status()` shows the grant as `reauth_required`.
 * Code `ERR_OAUTH_REAUTH_REQUIRED`.
 *
 * @example
 * ```ts
 * try { await manager.get("my-grant"); }
 * catch (e) { if (e instanceof ReauthRequiredError) console.error(`log in again: ${e.credentialId}`); }
 * ```
 */
export class ReauthRequiredError extends KagiyaError {
  readonly credentialId: string;
  /** `refused`: the provider refused the stored grant; `missing`: none was ever stored. */
  readonly reason: "refused" | "missing";
  constructor(credentialId: string, reason: "refused" | "missing", options?: { cause?: unknown }) {
    super(
      "ERR_OAUTH_REAUTH_REQUIRED",
      reason === "refused"
        ? `the grant of ${credentialId} was refused by the provider and no newer one was stored: log in again`
        : `${credentialId} has no stored grant (refresh token): log in first`,
      options,
    );
    this.credentialId = credentialId;
    this.reason = reason;
  }
}
