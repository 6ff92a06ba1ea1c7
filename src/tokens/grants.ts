/**
 * Grants (refresh tokens) in the engine: reading the credential's grant before its kind is called,
 * recovering from a refused grant, storing a new grant by compare-and-set before its access token
 * is handed out, and keeping both in memory when the store fails at that moment.
 *
 * The rules, all under the credential's issue lock:
 * - the grant handed to the kind is the stored one (or one still waiting to be written here);
 * - a grant that comes back is written with `swapGrant` on the version read before the call, then
 *   the access token is committed; only then is the token handed out;
 * - when the store fails at that moment, both stay in memory ({@link GrantBook}): the token is
 *   handed out, the next refresh uses the new grant (never the spent one), and the write is
 *   retried by the next get() that reaches the store, and by maintain() (a kind without grants
 *   keeps its new token the same way: ./issuer.ts);
 * - `InvalidGrantError` from the kind: the store is read again and a newer active grant another
 *   process stored is tried once; then a kind that can start over does (`obtain(…, null)`), and
 *   any other has its grant marked `reauth_required` ({@link ReauthRequiredError}).
 *
 * @module
 */
import type { GrantSecret } from "../store/grants.ts";
import type { GrantStatus, Sealed, TokenRow } from "../store/types.ts";
import type { CredentialEntry } from "./credentials.ts";
import { singleFlight, type Engine } from "./engine.ts";
import { InvalidGrantError, ReauthRequiredError } from "./errors.ts";
import type { GrantUse, ObtainedToken } from "./kind.ts";
import type { ManagedToken } from "./types.ts";

/** A change of a credential's stored grant, as hooks see it (never the secret). */
export interface GrantChange {
  /** The version now stored. */
  version: number;
  status: GrantStatus;
}

/** New tokens a process obtained, in plaintext, for an in-process `onTokens` hook. All secrets. */
export interface TokenUpdate {
  accessToken: string;
  keyId: string;
  issuedAt: number;
  expiresAt: number;
  /** The grant in force after this change (null when the credential keeps none). */
  grant: GrantSecret | null;
}

/** Hooks on grant and token changes; errors they throw (or reject with) are caught and reported, never lose tokens. */
export interface GrantHooks {
  /** A credential's grant was written to the store (new version or status). Never given a secret. */
  onGrant?: (credentialId: string, change: GrantChange) => void;
  /** This process obtained new tokens for the credential (called once they are stored, or kept in memory). */
  onTokens?: (credentialId: string, tokens: TokenUpdate) => void | Promise<void>;
  /** Where hook failures go (default: a process warning naming the hook and the error's name only). */
  onHookError?: (credentialId: string, hook: "onGrant" | "onTokens", error: unknown) => void;
}

/** What is still to be written for a credential because the store failed when it was obtained. */
export interface PendingWrite {
  grant: { secret: GrantSecret; expectedVersion: number } | null;
  token: {
    row: TokenRow;
    expectedGeneration: number;
    supersededRevokeAt: number;
    /**
     * Called once the write was tried, with commitToken's answer (false: a newer token was stored
     * meanwhile); for a token kept without a grant, settles it (./issuer.ts). Store failures are
     * thrown and it stays pending.
     */
    settle?: (committed: boolean) => Promise<void>;
  } | null;
}

/** One manager's grant state in memory: writes waiting for the store (the only copy of a live grant), and the hooks. */
export class GrantBook {
  readonly pending = new Map<string, PendingWrite>();
  readonly flushing = new Map<string, Promise<void>>();
  readonly hooks: GrantHooks;

  constructor(hooks: GrantHooks = {}) {
    this.hooks = hooks;
  }
}

/** What the engine read of a credential's grant before calling its kind. */
export interface GrantRead {
  /** The stored version (0: none), which the next write compares against. */
  version: number;
  /** Null when there is none. */
  status: GrantStatus | null;
  sealed: Sealed | null;
  secret: GrantSecret | null;
}

/** A kind's answer with the grant it was obtained from. */
export interface Obtained {
  issued: ObtainedToken;
  /** The grant read before the call; null when the credential keeps none. */
  base: GrantRead | null;
  /** The stored grant was refused and the kind started over without it. */
  refused: boolean;
}

/** How the credential keeps a grant. */
export function grantUseOf(entry: CredentialEntry): GrantUse {
  return entry.kind.grantUse?.(entry.channel) ?? "none";
}

async function readStored(e: Engine, id: string): Promise<GrantRead> {
  const state = await e.store.getGrant(id);
  if (state === null) return { version: 0, status: null, sealed: null, secret: null };
  return { version: state.version, status: state.status, sealed: state.secret, secret: state.status === "active" ? e.registry.openGrant(state) : null };
}

/** The grant to use: one still waiting to be written here comes first (the stored one was spent getting it). */
async function readGrant(e: Engine, id: string): Promise<GrantRead> {
  const p = e.grants.pending.get(id)?.grant;
  if (p) return { version: p.expectedVersion, status: "active", sealed: e.registry.sealGrant(id, p.secret), secret: p.secret };
  return readStored(e, id);
}

/**
 * Calls the kind with the credential's grant (`call(grant)`), recovering from a refused one as the
 * module describes. Throws {@link ReauthRequiredError} when only a new login can help.
 */
export async function obtainWithGrant(e: Engine, entry: CredentialEntry, call: (grant: GrantSecret | null) => Promise<ObtainedToken>): Promise<Obtained> {
  const id = entry.channel.channelId;
  const use = grantUseOf(entry);
  if (use === "none") return { issued: await call(null), base: null, refused: false };
  let base = await readGrant(e, id);
  if (base.secret === null) {
    if (use === "required") throw new ReauthRequiredError(id, base.status === null ? "missing" : "refused");
    return { issued: await call(null), base, refused: false };
  }
  let refusal: unknown;
  try {
    return { issued: await call(base.secret), base, refused: false };
  } catch (error) {
    if (!(error instanceof InvalidGrantError)) throw error;
    refusal = error;
  }
  // With rotation, another process may have refreshed first and stored the successor of ours.
  const again = await readStored(e, id);
  if (again.version !== base.version) {
    base = again;
    if (again.secret !== null) {
      try {
        return { issued: await call(again.secret), base, refused: false };
      } catch (error) {
        if (!(error instanceof InvalidGrantError)) throw error;
        refusal = error;
      }
    }
  }
  if (use === "optional") return { issued: await call(null), base, refused: true };
  await markReauthRequired(e, id, base);
  throw new ReauthRequiredError(id, "refused", { cause: refusal });
}

/** A token (and grant) obtained outside the engine, e.g. by an OAuth login, as if the kind had answered it. */
export async function adoptGiven(e: Engine, entry: CredentialEntry, given: ObtainedToken): Promise<Obtained> {
  return { issued: given, base: grantUseOf(entry) === "none" ? null : await readStored(e, entry.channel.channelId), refused: false };
}

/** Marks the grant read as `base` refused (compare-and-set: a newer grant is left alone). Best effort. */
async function markReauthRequired(e: Engine, id: string, base: GrantRead): Promise<void> {
  if (base.sealed === null || base.status === "reauth_required") return;
  try {
    const v = await e.store.swapGrant(id, base.version, { secret: base.sealed, status: "reauth_required", updatedAt: e.now() });
    if (v !== null) notifyGrant(e, id, { version: v, status: "reauth_required" });
  } catch {
    // The store is failing: the next attempt finds the grant refused again and marks it then.
  }
}

/**
 * Writes a new grant by compare-and-set on `expectedVersion`. Losing to a write that only marked
 * the grant `reauth_required` (ours is live, theirs is not), it writes over that; losing to a newer
 * active grant, it leaves that one (returns null). Store failures are thrown.
 */
async function writeGrant(e: Engine, id: string, g: { secret: GrantSecret; expectedVersion: number }): Promise<number | null> {
  const next = { secret: e.registry.sealGrant(id, g.secret), status: "active" as const, updatedAt: e.now() };
  let v = await e.store.swapGrant(id, g.expectedVersion, next);
  if (v === null) {
    const cur = await e.store.getGrant(id);
    if (cur !== null && cur.status === "reauth_required") v = await e.store.swapGrant(id, cur.version, next);
  }
  if (v !== null) notifyGrant(e, id, { version: v, status: "active" });
  return v;
}

/**
 * Stores what a grant-keeping kind obtained: the grant first (compare-and-set on the version read
 * before the call), then the token row. When the store fails, both are kept in memory and written
 * later ({@link flushPending}); the token is handed out all the same. Resolves to commitToken's
 * answer, or "pending".
 */
export async function commitWithGrant(e: Engine, id: string, obtained: Obtained & { base: GrantRead }, row: TokenRow, generation: number, supersededRevokeAt: number): Promise<boolean | "pending"> {
  const next = obtained.issued.grant;
  const pending: PendingWrite = {
    grant: next !== undefined ? { secret: next, expectedVersion: obtained.base.version } : null,
    token: { row, expectedGeneration: generation, supersededRevokeAt },
  };
  // Sealed before anything is written, so a grant that cannot be sealed fails the whole issue.
  if (next !== undefined) e.registry.sealGrant(id, next);
  try {
    if (pending.grant !== null) {
      await writeGrant(e, id, pending.grant);
      pending.grant = null;
    } else if (obtained.refused) {
      // Started over without a grant and none came back: do not offer the refused one again.
      await markReauthRequired(e, id, obtained.base);
    }
    const committed = await e.store.commitToken(id, generation, row, supersededRevokeAt);
    e.grants.pending.delete(id);
    return committed;
  } catch {
    e.grants.pending.set(id, pending);
    return "pending";
  }
}

/** Writes what waits for the store (once per credential at a time); store failures are thrown and it stays pending. */
export function flushPending(e: Engine, id: string): Promise<void> {
  if (!e.grants.pending.has(id)) return Promise.resolve();
  return singleFlight(e.grants.flushing, id, async () => {
    const p = e.grants.pending.get(id);
    if (p === undefined) return;
    if (p.grant !== null) {
      await writeGrant(e, id, p.grant);
      p.grant = null;
    }
    if (p.token !== null) {
      // False when a newer token was stored meanwhile: ours is simply not the current one.
      const committed = await e.store.commitToken(id, p.token.expectedGeneration, p.token.row, p.token.supersededRevokeAt);
      await p.token.settle?.(committed);
      p.token = null;
    }
    e.grants.pending.delete(id);
  });
}

/** The grant in force after `obtained` (the new one, else the one it was obtained with). */
export function grantAfter(obtained: Obtained): GrantSecret | null {
  if (obtained.base === null) return null;
  return obtained.issued.grant ?? obtained.base.secret;
}

function hookFailed(e: Engine, id: string, hook: "onGrant" | "onTokens", error: unknown): void {
  const report = e.grants.hooks.onHookError;
  if (report !== undefined) {
    try {
      report(id, hook, error);
    } catch {
      // A failing error reporter has nowhere left to report to.
    }
    return;
  }
  // The error's name only: a hook's message may quote the tokens it was given.
  process.emitWarning(`the ${hook} hook failed for ${id} (${(error as Error | null)?.name ?? typeof error}); the tokens are kept`, { code: "KAGIYA_HOOK_FAILED" });
}

function notifyGrant(e: Engine, id: string, change: GrantChange): void {
  const hook = e.grants.hooks.onGrant;
  if (hook === undefined) return;
  try {
    hook(id, { ...change });
  } catch (error) {
    hookFailed(e, id, "onGrant", error);
  }
}

/** Tells the onTokens hook of a token this process obtained (after it was stored or kept). */
export function notifyTokens(e: Engine, id: string, token: ManagedToken, grant: GrantSecret | null): void {
  const hook = e.grants.hooks.onTokens;
  if (hook === undefined) return;
  try {
    const r = hook(id, { accessToken: token.accessToken, keyId: token.keyId, issuedAt: token.issuedAt, expiresAt: token.expiresAt, grant: grant === null ? null : { ...grant } });
    if (r !== undefined && typeof (r as Promise<void>).then === "function") (r as Promise<void>).then(undefined, (error: unknown) => hookFailed(e, id, "onTokens", error));
  } catch (error) {
    hookFailed(e, id, "onTokens", error);
  }
}
