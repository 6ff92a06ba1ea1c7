// Small pieces every backend shares.
import { randomBytes } from "node:crypto";
import { DEFAULT_CREDENTIAL_KIND, type ApiKeyRow, type AuditRow, type ChannelRow, type GrantState, type GrantStatus, type IssueIntent, type SealedCell, type SharedBackoff, type TokenRow, type TokenState } from "./types.ts";

/**
 * Meta names beginning with this prefix hold sealed values: `listSealed()` returns them (table
 * "meta", column "value") so master-key rotation re-seals them too. Other meta names are plain.
 *
 * @example
 * ```ts
 * const name = `${SEALED_META_PREFIX}webhook_secret`;
 * await store.setMeta(name, sealer.seal(secret, { table: "meta", row: name, column: "value" }));
 * ```
 */
export const SEALED_META_PREFIX = "sealed.";

/** Meta name of the sealed master-key check value. */
export const MASTER_CHECK_META = "sealed.master_check";

/** A random lock owner token: unguessable, so only the holder can release. */
export function newOwner(): string {
  return randomBytes(16).toString("base64url");
}

/** Row key of a token in {@link SealedCell}: `${channelId}/${keyId}`. */
export function tokenRowKey(channelId: string, keyId: string): string {
  return `${channelId}/${keyId}`;
}

/** Splits a token row key at the first "/" (channel IDs are digits, key IDs may hold "/"). */
export function splitTokenRowKey(row: string): [string, string] {
  const i = row.indexOf("/");
  return i === -1 ? [row, ""] : [row.slice(0, i), row.slice(i + 1)];
}

export function cloneChannel(r: ChannelRow): ChannelRow {
  return { ...r, policy: { ...r.policy }, settings: { ...r.settings }, secrets: { ...r.secrets } };
}

/** Column name of a further sealed secret of a channel in {@link SealedCell}: `secrets.<name>`. */
export const SECRET_COLUMN_PREFIX = "secrets.";

/** A JSON object column (policy, settings, secrets) as an object; missing or empty text is {}. */
export function jsonObject<T extends object>(text: unknown): T {
  return (typeof text === "string" && text !== "" ? JSON.parse(text) : {}) as T;
}

/**
 * The TokenManager's coordination values as kagiya 0.1 kept them in meta (upgrades carry them
 * into the typed coordination store): `tokens.issuing.<id>` = `{"at":ms,"pid":n}` and
 * `tokens.backoff.<id>` = `{"retryAt","code","message"}`; an empty string meant none.
 */
export const LEGACY_INTENT_META = "tokens.issuing.";
export const LEGACY_BACKOFF_META = "tokens.backoff.";

/** A 0.1 intent meta value as an {@link IssueIntent} (owner `legacy:<pid>`), or null for none or garbage. */
export function legacyIntent(text: string): IssueIntent | null {
  const v = parseJson(text) as { at?: unknown; pid?: unknown } | null;
  if (v === null || typeof v.at !== "number") return null;
  return { owner: `legacy:${typeof v.pid === "number" ? v.pid : "unknown"}`, at: v.at };
}

/** A 0.1 backoff meta value as a {@link SharedBackoff}, or null for none or garbage. */
export function legacyBackoff(text: string): SharedBackoff | null {
  const v = parseJson(text) as Partial<Record<keyof SharedBackoff, unknown>> | null;
  if (v === null || typeof v.retryAt !== "number" || typeof v.code !== "string" || typeof v.message !== "string") return null;
  return { retryAt: v.retryAt, code: v.code, message: v.message };
}

function parseJson(text: string): unknown {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === "object" && v !== null ? v : null;
  } catch {
    return null;
  }
}
export function cloneToken(r: TokenRow): TokenRow {
  return { ...r };
}
export function cloneApiKey(r: ApiKeyRow): ApiKeyRow {
  return { ...r, channels: [...r.channels] };
}
export function cloneAudit(r: AuditRow): AuditRow {
  return { ...r };
}

/** Newest issuedAt first; ties by keyId so the order is stable. */
export function byIssuedDesc(a: TokenRow, b: TokenRow): number {
  return b.issuedAt - a.issuedAt || (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0);
}

/** A URL or store spec with any password replaced by `***`, for messages. */
export function redactSpec(spec: string): string {
  return spec.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i, (_m, scheme: string, user: string) => `${scheme}${user.includes(":") ? `${user.split(":")[0]}:***` : user}@`);
}

/** A row of the SQL backends (SQLite, PostgreSQL), keyed by column name. */
export type SqlRow = Record<string, unknown>;

/** A numeric SQL value as a number (PostgreSQL returns bigint columns as strings). */
export function sqlNumber(v: unknown): number {
  return typeof v === "number" ? v : Number(v);
}
function sqlNumberOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

/** A `tokens` row of the SQL backends. */
export function sqlToken(r: SqlRow): TokenRow {
  return {
    channelId: r["channel_id"] as string,
    keyId: r["key_id"] as string,
    accessToken: r["access_token"] as string | null,
    generation: sqlNumber(r["generation"]),
    state: r["state"] as TokenState,
    issuedAt: sqlNumber(r["issued_at"]),
    expiresAt: sqlNumber(r["expires_at"]),
    refreshAt: sqlNumber(r["refresh_at"]),
    revokeAt: sqlNumberOrNull(r["revoke_at"]),
    updatedAt: sqlNumber(r["updated_at"]),
  };
}
/** A `channels` row of the SQL backends. */
export function sqlChannel(r: SqlRow): ChannelRow {
  return {
    channelId: r["channel_id"] as string,
    kind: (r["kind"] as string | null | undefined) ?? DEFAULT_CREDENTIAL_KIND,
    kid: r["kid"] as string,
    privateKey: r["private_key"] as string,
    channelSecret: r["channel_secret"] as string,
    policy: jsonObject(r["policy"]),
    settings: jsonObject(r["settings"]),
    secrets: jsonObject(r["secrets"]),
    createdAt: sqlNumber(r["created_at"]),
    updatedAt: sqlNumber(r["updated_at"]),
  };
}
/** A `grants` row of the SQL backends. */
export function sqlGrant(r: SqlRow): GrantState {
  return {
    credentialId: r["credential_id"] as string,
    secret: r["secret"] as string,
    version: sqlNumber(r["version"]),
    status: r["status"] as GrantStatus,
    updatedAt: sqlNumber(r["updated_at"]),
  };
}
/** An `api_keys` row of the SQL backends. */
export function sqlApiKey(r: SqlRow): ApiKeyRow {
  return {
    id: r["id"] as string,
    name: r["name"] as string,
    hash: r["hash"] as string,
    channels: JSON.parse(r["channels"] as string),
    createdAt: sqlNumber(r["created_at"]),
    revokedAt: sqlNumberOrNull(r["revoked_at"]),
    lastUsedAt: sqlNumberOrNull(r["last_used_at"]),
  };
}
/** An `audit` row of the SQL backends. */
export function sqlAudit(r: SqlRow): AuditRow {
  return {
    id: sqlNumber(r["id"]),
    at: sqlNumber(r["at"]),
    action: r["action"] as string,
    actor: r["actor"] as string,
    channelId: r["channel_id"] as string | null,
    keyId: r["key_id"] as string | null,
    detail: r["detail"] as string | null,
  };
}

/** A value the SQL backends write into a column. */
export type SqlValue = string | number | null;

/** A token row's values in the SQL backends' column order (channel_id, key_id, access_token, generation, state, issued_at, expires_at, refresh_at, revoke_at, updated_at). */
export function sqlTokenValues(t: TokenRow): SqlValue[] {
  return [t.channelId, t.keyId, t.accessToken, t.generation, t.state, t.issuedAt, t.expiresAt, t.refreshAt, t.revokeAt, t.updatedAt];
}
/** A channel row's values in the SQL backends' column order (channel_id, kind, kid, private_key, channel_secret, policy, settings, secrets, created_at, updated_at). */
export function sqlChannelValues(row: ChannelRow): SqlValue[] {
  const json = (v: object | undefined) => JSON.stringify(v ?? {});
  return [row.channelId, row.kind, row.kid, row.privateKey, row.channelSecret, json(row.policy), json(row.settings), json(row.secrets), row.createdAt, row.updatedAt];
}
/** An API key row's values in the SQL backends' column order (id, name, hash, channels, created_at, revoked_at, last_used_at). */
export function sqlApiKeyValues(row: ApiKeyRow): SqlValue[] {
  return [row.id, row.name, row.hash, JSON.stringify(row.channels), row.createdAt, row.revokedAt, row.lastUsedAt];
}
/** An audit row's values in the SQL backends' column order (at, action, actor, channel_id, key_id, detail; the id is the database's). */
export function sqlAuditValues(row: AuditRow): SqlValue[] {
  return [row.at, row.action, row.actor, row.channelId, row.keyId, row.detail];
}

/** The sealed cells of one channel row: privateKey, channelSecret, then each further secret by name. */
export function channelSealedCells(r: Pick<ChannelRow, "channelId" | "privateKey" | "channelSecret" | "secrets">): SealedCell[] {
  const cells: SealedCell[] = [
    { table: "channels", row: r.channelId, column: "privateKey", value: r.privateKey },
    { table: "channels", row: r.channelId, column: "channelSecret", value: r.channelSecret },
  ];
  for (const name of Object.keys(r.secrets).sort()) cells.push({ table: "channels", row: r.channelId, column: SECRET_COLUMN_PREFIX + name, value: r.secrets[name]! });
  return cells;
}

/** The 0.1 coordination values among meta rows, typed (none, empty and malformed values left out). */
export function legacyCoordination(rows: Iterable<SqlRow>): { intents: Array<[string, IssueIntent]>; backoffs: Array<[string, SharedBackoff]> } {
  const intents: Array<[string, IssueIntent]> = [];
  const backoffs: Array<[string, SharedBackoff]> = [];
  for (const r of rows) {
    const name = r["name"] as string;
    const value = r["value"] as string;
    if (name.startsWith(LEGACY_INTENT_META)) {
      const v = legacyIntent(value);
      if (v) intents.push([name.slice(LEGACY_INTENT_META.length), v]);
    } else if (name.startsWith(LEGACY_BACKOFF_META)) {
      const v = legacyBackoff(value);
      if (v) backoffs.push([name.slice(LEGACY_BACKOFF_META.length), v]);
    }
  }
  return { intents, backoffs };
}
