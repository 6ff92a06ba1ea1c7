/**
 * The dashboard's credential list, paged and filtered on the server: LINE channels and LINE WORKS
 * apps side by side (kind, scope, expiry, last refresh, last error), by kind, state and ID
 * substring, one page at a time, so 10,000 credentials never become 10,000 cards. Only the page's
 * credentials have their token status read, unless a state filter needs every candidate's.
 */
import type { ChannelRow, TokenRow } from "../store/types.ts";
import type { ChannelTokenStatus } from "../tokens/types.ts";
import { toHttpError, type ServerContext } from "./context.ts";
import { HttpError } from "./errors.ts";

/** Page size when none is asked for, and the largest one allowed. */
export const CREDENTIALS_PAGE_DEFAULT = 20;
export const CREDENTIALS_PAGE_MAX = 100;
/** Status reads in flight at once while a state filter looks at every candidate. */
const STATUS_CONCURRENCY = 16;

/** A credential's state, as the filter names it. */
export type CredentialState = "valid" | "none" | "error";
const STATES: ReadonlySet<string> = new Set(["valid", "none", "error"]);

/** What the list can be asked for (from the query string). */
export interface CredentialQuery {
  kind: string | null;
  state: CredentialState | null;
  /** Case-insensitive substring of the credential ID. */
  q: string | null;
  offset: number;
  limit: number;
}

/**
 * Reads `kind`, `state`, `q`, `offset` and `limit` from a query string; a bad value is a 400.
 *
 * @example
 * ```ts
 * parseCredentialQuery("kind=line-works&q=bill&limit=50"); // { kind: "line-works", state: null, q: "bill", offset: 0, limit: 50 }
 * ```
 */
export function parseCredentialQuery(query: string): CredentialQuery {
  const p = new URLSearchParams(query);
  const text = (name: string, pattern: RegExp, what: string): string | null => {
    const v = p.get(name);
    if (v === null || v === "") return null;
    if (!pattern.test(v)) throw new HttpError(400, "ERR_BAD_REQUEST", `${name} must be ${what}`);
    return v;
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const v = p.get(name);
    if (v === null || v === "") return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new HttpError(400, "ERR_BAD_REQUEST", `${name} must be an integer from ${min} to ${max}`);
    return n;
  };
  const state = text("state", /^[a-z]{1,10}$/, "valid, none or error");
  if (state !== null && !STATES.has(state)) throw new HttpError(400, "ERR_BAD_REQUEST", "state must be valid, none or error");
  return {
    kind: text("kind", /^[a-z0-9][a-z0-9.-]{0,31}$/, "a credential kind such as line-v2.1 or line-works"),
    state: state as CredentialState | null,
    q: text("q", /^[A-Za-z0-9._-]{1,64}$/, "part of a credential ID (letters, digits, '.', '_', '-')")?.toLowerCase() ?? null,
    offset: int("offset", 0, 0, 10_000_000),
    limit: int("limit", CREDENTIALS_PAGE_DEFAULT, 1, CREDENTIALS_PAGE_MAX),
  };
}

/** One card of the list. */
export interface CredentialCard {
  channelId: string;
  kind: string;
  kid: string;
  createdAt: number;
  /** LINE WORKS: the app's scopes, its client ID and bot; null for LINE channels. */
  scope: string | null;
  clientId: string | null;
  botId: string | null;
  state: CredentialState | null;
  status: (ChannelTokenStatus & { lastIssuedAt: number | null }) | null;
  error: { code: string; message: string } | null;
}

/** The state of a credential from its status: an error newer than its last refresh, a valid token, or none. */
export function credentialState(status: ChannelTokenStatus): CredentialState {
  if (status.lastError !== null && (status.lastRefreshAt === null || status.lastError.at > status.lastRefreshAt)) return "error";
  return status.tokens.some((t) => t.state === "valid") ? "valid" : "none";
}

function setting(row: ChannelRow, name: string): string | null {
  const v = row.settings[name];
  return typeof v === "string" ? v : null;
}

async function card(ctx: ServerContext, row: ChannelRow): Promise<CredentialCard> {
  const base = { channelId: row.channelId, kind: row.kind, kid: row.kid, createdAt: row.createdAt, scope: setting(row, "scope"), clientId: setting(row, "clientId"), botId: setting(row, "botId") };
  try {
    const [status, stored] = await Promise.all([ctx.tokens.status(row.channelId), ctx.store.listTokens(row.channelId)]);
    const withTimes = withTimeline(status, stored);
    return { ...base, state: credentialState(status), status: withTimes, error: null };
  } catch (error) {
    const http = toHttpError(error, ctx.now());
    return { ...base, state: null, status: null, error: { code: http.code, message: http.message } };
  }
}

/** Maps with at most `n` calls in flight, keeping order. */
async function mapLimited<T, R>(items: readonly T[], n: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const at = next++;
      out[at] = await f(items[at]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

/**
 * One page of the credential list and the counts the filters need.
 *
 * @example
 * ```ts
 * const page = await credentialPage(ctx, parseCredentialQuery("kind=line-works"));
 * page.total; // matching credentials, all pages
 * ```
 */
export async function credentialPage(ctx: ServerContext, query: CredentialQuery): Promise<{ total: number; offset: number; limit: number; kinds: Record<string, number>; channels: CredentialCard[] }> {
  const rows = await ctx.store.listChannels();
  const kinds: Record<string, number> = {};
  for (const row of rows) kinds[row.kind] = (kinds[row.kind] ?? 0) + 1;
  const candidates = rows.filter((row) => (query.kind === null || row.kind === query.kind) && (query.q === null || row.channelId.toLowerCase().includes(query.q)));
  let matching: CredentialCard[] | null = null;
  let total = candidates.length;
  if (query.state !== null) {
    // The state is in each credential's status: every candidate is read, a few at a time.
    const cards = await mapLimited(candidates, STATUS_CONCURRENCY, (row) => card(ctx, row));
    matching = cards.filter((c) => c.state === query.state);
    total = matching.length;
  }
  const channels = matching !== null
    ? matching.slice(query.offset, query.offset + query.limit)
    : await mapLimited(candidates.slice(query.offset, query.offset + query.limit), STATUS_CONCURRENCY, (row) => card(ctx, row));
  return { total, offset: query.offset, limit: query.limit, kinds, channels };
}

/**
 * The status the dashboard draws a channel's timeline from: each token with when a superseded one
 * is revoked (`revokeAt`) and when a revoked one ended (`endedAt`, its last update), and when a
 * token was last issued for any reason (manual issues too, by any process sharing the store).
 */
export function withTimeline(status: ChannelTokenStatus, stored: TokenRow[]): ChannelTokenStatus & { lastIssuedAt: number | null; tokens: Array<ChannelTokenStatus["tokens"][number] & { revokeAt: number | null; endedAt: number | null }> } {
  const rows = new Map(stored.map((r) => [r.keyId, r]));
  const tokens = status.tokens.map((t) => {
    const r = rows.get(t.keyId);
    return { ...t, revokeAt: t.state === "superseded" ? r?.revokeAt ?? null : null, endedAt: t.state === "revoked" ? r?.updatedAt ?? null : null };
  });
  const issued = tokens.filter((t) => t.state !== "orphan").map((t) => t.issuedAt);
  return { ...status, tokens, lastIssuedAt: issued.length > 0 ? Math.max(...issued) : null };
}
