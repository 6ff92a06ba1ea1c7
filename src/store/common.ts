// Small pieces every backend shares.
import { randomBytes } from "node:crypto";
import type { ApiKeyRow, AuditRow, ChannelRow, TokenRow } from "./types.ts";

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
