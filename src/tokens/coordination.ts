/**
 * What processes sharing a store tell each other about a credential beyond its tokens: an issue in
 * flight (set before asking the provider, cleared once the outcome is known, so a crash in between
 * makes the next issuer reconcile first) and a shared backoff (one failure's Retry-After honoured
 * by every process).
 *
 * @module
 */
import type { Store } from "../store/types.ts";

/** An issue in flight. `owner` is unique per attempt. */
export interface IssueIntent {
  owner: string;
  at: number;
}

/** A backoff every process honours. */
export interface SharedBackoff {
  retryAt: number;
  code: string;
  message: string;
}

type MetaStore = Pick<Store, "getMeta" | "setMeta">;

const INTENT_PREFIX = "tokens.issuing.";
const BACKOFF_PREFIX = "tokens.backoff.";

function parse(text: string | null): Record<string, unknown> | null {
  if (!text) return null;
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The intent recorded for `id`, if any. */
export async function getIssueIntent(store: MetaStore, id: string): Promise<IssueIntent | null> {
  const v = parse(await store.getMeta(INTENT_PREFIX + id));
  if (v === null || typeof v["at"] !== "number") return null;
  return { owner: typeof v["owner"] === "string" ? v["owner"] : `legacy:${String(v["pid"])}`, at: v["at"] };
}

export async function setIssueIntent(store: MetaStore, id: string, intent: IssueIntent): Promise<void> {
  await store.setMeta(INTENT_PREFIX + id, JSON.stringify(intent));
}

/** Clears the intent; with `owner`, only while it is still that attempt's (leave a newer one alone). */
export async function clearIssueIntent(store: MetaStore, id: string, owner?: string): Promise<void> {
  if (owner !== undefined && (await getIssueIntent(store, id))?.owner !== owner) return;
  await store.setMeta(INTENT_PREFIX + id, "");
}

export async function getBackoff(store: MetaStore, id: string): Promise<SharedBackoff | null> {
  const v = parse(await store.getMeta(BACKOFF_PREFIX + id));
  if (v === null || typeof v["retryAt"] !== "number" || typeof v["code"] !== "string" || typeof v["message"] !== "string") return null;
  return { retryAt: v["retryAt"], code: v["code"], message: v["message"] };
}

export async function setBackoff(store: MetaStore, id: string, b: SharedBackoff): Promise<void> {
  await store.setMeta(BACKOFF_PREFIX + id, JSON.stringify(b));
}

export async function clearBackoff(store: MetaStore, id: string): Promise<void> {
  await store.setMeta(BACKOFF_PREFIX + id, "");
}
