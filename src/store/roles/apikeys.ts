/** API key for the token broker, stored only as a hash. */
export interface ApiKeyRow {
  id: string;
  name: string;
  /** Hex SHA-256 of the key text (keys are 256-bit random, so a fast hash is enough). */
  hash: string;
  /** Channel IDs this key may read tokens of. */
  channels: string[];
  createdAt: number;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

/** The broker's API keys. */
export interface ApiKeyStore {
  putApiKey(row: ApiKeyRow): Promise<void>;
  getApiKeyByHash(hash: string): Promise<ApiKeyRow | null>;
  /** Oldest createdAt first. */
  listApiKeys(): Promise<ApiKeyRow[]>;
  /** Marks the key revoked (a second revoke keeps the first time); false when there is no such key. */
  revokeApiKey(id: string, at: number): Promise<boolean>;
  touchApiKey(id: string, at: number): Promise<void>;
}
