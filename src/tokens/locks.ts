/**
 * The store locks the TokenManager takes, and keeping one alive while its holder works.
 *
 * @module
 */
import type { Lock } from "../store/types.ts";

/** Store lock held while a channel's token is issued (or its orphans reconciled). */
export const LOCK_PREFIX = "tokens.issue.";
/** Store lock held while superseded tokens are revoked and old rows pruned. */
export const MAINTAIN_LOCK_PREFIX = "tokens.maintain.";

/** A lock is kept alive for at most this many TTLs: a section hung beyond that lets others in. */
export const MAX_HOLD_TTLS = 10;

/**
 * Extends `lock` every third of its TTL until the returned function is called, so a locked section
 * slower than the TTL (LINE answering slowly, a long Retry-After) keeps other processes out; for
 * at most {@link MAX_HOLD_TTLS} TTLs, so a hung section cannot keep them out for ever. A failed or
 * refused extension (or a Store whose locks cannot extend) is left to the generation check at
 * commit, which still keeps the store consistent.
 */
export function keepAlive(lock: Lock, ttlMs: number): () => void {
  const until = Date.now() + ttlMs * MAX_HOLD_TTLS;
  const timer = setInterval(() => {
    if (Date.now() >= until) return clearInterval(timer);
    // Through a promise: a throwing or missing extend() must not become an uncaught exception.
    Promise.resolve().then(() => lock.extend(ttlMs)).catch(() => false);
  }, Math.max(10, Math.floor(ttlMs / 3)));
  timer.unref();
  return () => clearInterval(timer);
}

/** How often a lock whose release the store refused is released again. */
const RELEASE_RETRY_MS = 250;

/**
 * Releases `lock`; never throws. When the store refuses (a full disk refuses even a lock's delete;
 * a store briefly out of reach), the release is tried again in the background every 250 ms until
 * it goes through or the lock's TTL (`ttlMs`, the longest it can still be held) has passed: other
 * processes then wait only while the store cannot be written, not the whole TTL. A release that
 * comes after the lock lapsed and was taken by someone else does nothing (locks are released by
 * their owner only). `first`, when given, must succeed before each try: a write the section left
 * waiting for the store (a rotated refresh token) lands before another process can take the lock
 * and read the store without it.
 */
export async function releaseLock(lock: Lock, ttlMs: number, first?: () => Promise<void>): Promise<void> {
  const attempt = async (): Promise<void> => {
    if (first !== undefined) await first();
    await lock.release();
  };
  try {
    await attempt();
    return;
  } catch {
    // Tried again below.
  }
  const until = Date.now() + ttlMs;
  const retry = (): void => {
    if (Date.now() + RELEASE_RETRY_MS >= until) return;
    setTimeout(() => void attempt().catch(retry), RELEASE_RETRY_MS).unref();
  };
  retry();
}
