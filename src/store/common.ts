// Small pieces every backend shares.
import { randomBytes } from "node:crypto";
import type { ApiKeyRow, AuditRow, ChannelRow, TokenRow, TokenState } from "./types.ts";

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
  return { ...r, policy: { ...r.policy } };
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
    kid: r["kid"] as string,
    privateKey: r["private_key"] as string,
    channelSecret: r["channel_secret"] as string,
    policy: JSON.parse(r["policy"] as string),
    createdAt: sqlNumber(r["created_at"]),
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
