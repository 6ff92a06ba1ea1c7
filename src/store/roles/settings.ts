import type { Sealed } from "./sealed.ts";

/**
 * Which rows hold sealed values, for master-key rotation (walks every sealed column): channels
 * (privateKey, channelSecret, and `secrets.<name>` for each further secret), tokens (accessToken,
 * when not null), grants (column "secret", row = credentialId) and meta values whose name begins
 * with `sealed.` (column "value"), e.g. the master-key check value `sealed.master_check`.
 */
export interface SealedCell {
  table: "channels" | "tokens" | "grants" | "meta";
  /** Row key: channelId, `${channelId}/${keyId}`, the credential ID (grants), or the meta name. */
  row: string;
  column: string;
  value: Sealed;
}

/** Free settings (the master-key check value among them) and the sealed cells rotation walks. */
export interface SettingsStore {
  getMeta(name: string): Promise<string | null>;
  setMeta(name: string, value: string): Promise<void>;
  /** Every sealed value in the store. */
  listSealed(): Promise<SealedCell[]>;
  /** Replaces one sealed value if it still equals `expected`; false otherwise. */
  replaceSealed(cell: SealedCell, expected: Sealed): Promise<boolean>;
}
