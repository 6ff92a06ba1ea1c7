/**
 * The background re-check (stale-while-revalidate): past its check interval, a token in memory
 * before its refresh point is still handed out at once while one re-check asks the store whether
 * it is still the credential's token.
 *
 * @module
 */
import { ChannelNotFoundError } from "../store/errors.ts";
import type { CachedToken } from "./cache.ts";
import { singleFlight, type Engine } from "./engine.ts";
import { remember } from "./issuer.ts";
import { usableRow } from "./rows.ts";

/**
 * The token in memory past its check, with its re-check started (one per credential at a time,
 * in `rechecks`); undefined when get() must wait instead (none, past the stale window, or a grant
 * write waiting for the store, which the next read of the store makes first).
 */
export function staleHit(e: Engine, rechecks: Map<string, Promise<void>>, id: string, now: number): CachedToken | undefined {
  const held = e.cache.stale(id, now);
  if (held === undefined || e.grants.pending.size > 0) return undefined;
  void singleFlight(rechecks, id, () => nextTurn().then(() => recheck(e, id, held)));
  return held;
}

let turn: Promise<void> | undefined;
/**
 * Settles once the event loop has handled the I/O at hand: the re-checks that requests read in one
 * turn start then, together, so the store reads them in one batch (under load, requests arrive one
 * socket read at a time, and a batch per request costs the store client more than the reads).
 */
function nextTurn(): Promise<void> {
  return (turn ??= new Promise((resolve) => setImmediate(() => {
    turn = undefined;
    resolve();
  })));
}

/**
 * Re-checks `held`, the credential's entry served stale: the credential's version and its
 * current token are read together (one round trip; each batched with the other re-checks due).
 * The same or a newer usable token is remembered as fresh; anything else (removed, revoked,
 * near its end, due for refresh) drops the entry, so the next get() reads the store and asks the
 * provider as a cold one does. A failing store keeps the entry one more second. Never throws.
 */
export async function recheck(e: Engine, id: string, held: CachedToken): Promise<void> {
  const t0 = performance.now();
  try {
    const [entry, cur] = await Promise.all([e.credentials.load(id, e.now()), e.store.getCurrent(id)]);
    // Forgotten (an invalidate()) or replaced (a newer token) meanwhile: that decision stands.
    if (!e.cache.holds(id, held)) return;
    const now = e.now();
    const usable = usableRow(cur.token, entry.policy, now);
    if (usable !== null && now < usable.refreshAt) remember(e, id, cur.generation, usable, entry, now, usable.refreshAt);
    else e.cache.drop(id);
  } catch (error) {
    if (!e.cache.holds(id, held)) return;
    if (error instanceof ChannelNotFoundError) e.cache.drop(id);
    else e.cache.keep(id, e.now());
  } finally {
    e.observer.rechecked?.(id, performance.now() - t0);
  }
}
