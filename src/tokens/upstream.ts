/**
 * The three LINE calls the TokenManager makes, as one small interface, so the manager depends on
 * what it needs and not on the whole LINE client. {@link lineTokenApi} builds the real one.
 */
import type { Channel } from "../store/registry.ts";

/** What LINE answered to a v2.1 issue request, validated. `accessToken` is a secret. */
export interface IssuedToken {
  accessToken: string;
  keyId: string;
  /** Seconds. */
  expiresIn: number;
}

/** LINE's v2.1 token endpoints as the manager uses them. Errors are thrown as they are. */
export interface LineTokenApi {
  /** POST /oauth2/v2.1/token, one attempt (the manager does its own backoff on its clock). */
  issue(channel: Channel, lifetimeSeconds: number): Promise<IssuedToken>;
  /** POST /oauth2/v2.1/revoke. */
  revoke(channel: Channel, accessToken: string): Promise<void>;
  /** GET /oauth2/v2.1/tokens/kid. */
  validKeyIds(channel: Channel): Promise<string[]>;
}

/** LINE's stateless token endpoint (`POST /oauth2/v3/token`), by JWT assertion or by channel secret. */
export interface LineStatelessApi {
  issueStateless(channel: Channel, by: "assertion" | "secret"): Promise<{ accessToken: string; expiresIn: number }>;
}

/** An upstream failure as the manager reasons about it. Never holds a secret. */
export interface UpstreamFailure {
  code: string;
  message: string;
  /** The request may have taken effect at LINE: check valid key IDs before issuing again. */
  ambiguous: boolean;
  /** LINE asked us to wait this long (Retry-After), ms. */
  retryAfterMs: number | null;
}

/**
 * Reads the fields every LineError carries; anything else is an unknown, ambiguous failure.
 *
 * @example
 * ```ts
 * try { await line.issue(channel, 604800); }
 * catch (e) { if (classifyFailure(e).ambiguous) await manager.reconcile(channel.channelId); }
 * ```
 */
export function classifyFailure(error: unknown): UpstreamFailure {
  const e = (error ?? {}) as { code?: unknown; message?: unknown; ambiguous?: unknown; retryAfterMs?: unknown };
  const code = typeof e.code === "string" ? e.code : "ERR_UPSTREAM";
  const known = code.startsWith("ERR_");
  return {
    code,
    // Only kagiya's own errors have messages written to be shown; others may quote anything.
    message: known && typeof e.message === "string" ? e.message : "the request to LINE failed",
    ambiguous: known ? e.ambiguous === true : true,
    retryAfterMs: typeof e.retryAfterMs === "number" && Number.isFinite(e.retryAfterMs) ? Math.max(0, e.retryAfterMs) : null,
  };
}
