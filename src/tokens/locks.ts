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

/**
 * Extends `lock` every third of its TTL until the returned function is called, so a locked section
 * slower than the TTL (LINE answering slowly, a long Retry-After) keeps other processes out.
 * A failed or refused extension is left to the generation check at commit, which still keeps
 * the store consistent.
 */
export function keepAlive(lock: Lock, ttlMs: number): () => void {
  const timer = setInterval(() => void lock.extend(ttlMs).catch(() => false), Math.max(10, Math.floor(ttlMs / 3)));
  timer.unref();
  return () => clearInterval(timer);
}
