// Rows to Redis hash fields and back. Key names: ./layout.ts.
import { jsonObject, SECRET_COLUMN_PREFIX } from "../common.ts";
import { DEFAULT_CREDENTIAL_KIND, type ApiKeyRow, type ChannelRow, type TokenRow, type TokenState } from "../types.ts";

export type Hash = Record<string, string>;

export function pairsToHash(flat: unknown): Hash {
  const out: Hash = {};
  const a = flat as string[];
  for (let i = 0; i + 1 < a.length; i += 2) out[a[i]!] = a[i + 1]!;
  return out;
}

export function num(v: string | undefined): number {
  return v === undefined ? 0 : Number(v);
}
export function numOrNull(v: string | undefined): number | null {
  return v === undefined || v === "" ? null : Number(v);
}

export function tokenFields(t: TokenRow): string[] {
  const f = ["channelId", t.channelId, "keyId", t.keyId, "generation", String(t.generation), "state", t.state, "issuedAt", String(t.issuedAt)];
  f.push("expiresAt", String(t.expiresAt), "refreshAt", String(t.refreshAt), "updatedAt", String(t.updatedAt));
  if (t.accessToken !== null) f.push("accessToken", t.accessToken);
  if (t.revokeAt !== null) f.push("revokeAt", String(t.revokeAt));
  return f;
}

export function toToken(h: Hash): TokenRow {
  return {
    channelId: h["channelId"]!,
    keyId: h["keyId"]!,
    accessToken: h["accessToken"] ?? null,
    generation: num(h["generation"]),
    state: h["state"] as TokenState,
    issuedAt: num(h["issuedAt"]),
    expiresAt: num(h["expiresAt"]),
    refreshAt: num(h["refreshAt"]),
    revokeAt: numOrNull(h["revokeAt"]),
    updatedAt: num(h["updatedAt"]),
  };
}

export function toChannel(h: Hash): ChannelRow {
  const secrets: Record<string, string> = {};
  for (const [field, value] of Object.entries(h)) if (field.startsWith(SECRET_COLUMN_PREFIX)) secrets[field.slice(SECRET_COLUMN_PREFIX.length)] = value;
  return {
    channelId: h["channelId"]!,
    kind: h["kind"] ?? DEFAULT_CREDENTIAL_KIND,
    kid: h["kid"]!,
    privateKey: h["privateKey"]!,
    channelSecret: h["channelSecret"]!,
    policy: jsonObject(h["policy"]),
    settings: jsonObject(h["settings"]),
    secrets,
    createdAt: num(h["createdAt"]),
    updatedAt: num(h["updatedAt"]),
  };
}

export function toApiKey(h: Hash): ApiKeyRow {
  return {
    id: h["id"]!,
    name: h["name"]!,
    hash: h["hash"]!,
    channels: JSON.parse(h["channels"] ?? "[]"),
    createdAt: num(h["createdAt"]),
    revokedAt: numOrNull(h["revokedAt"]),
    lastUsedAt: numOrNull(h["lastUsedAt"]),
  };
}

/** A channel row as hash fields (absent secrets are absent fields). */
export function channelFields(row: ChannelRow): Hash {
  const h: Hash = {
    channelId: row.channelId,
    kind: row.kind,
    kid: row.kid,
    privateKey: row.privateKey,
    channelSecret: row.channelSecret,
    policy: JSON.stringify(row.policy ?? {}),
    settings: JSON.stringify(row.settings ?? {}),
    createdAt: String(row.createdAt),
    updatedAt: String(row.updatedAt),
  };
  for (const [name, value] of Object.entries(row.secrets ?? {})) h[SECRET_COLUMN_PREFIX + name] = value;
  return h;
}
