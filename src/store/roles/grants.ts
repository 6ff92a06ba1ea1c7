import type { Sealed } from "./sealed.ts";

/**
 * Whether a credential's grant can still be used: `active`, or `reauth_required` once the provider
 * refused it (invalid_grant) and nothing newer was stored: a person has to log in again (or, for
 * kinds that can start over, the next token is obtained without it).
 */
export type GrantStatus = "active" | "reauth_required";

/**
 * A credential's grant as the store holds it: the refresh token and the kind's data beside it,
 * sealed as one JSON value (table "grants", row = credentialId, column "secret"), with a version
 * that every write moves on by one.
 */
export interface GrantState {
  credentialId: string;
  secret: Sealed;
  /** 1 for the first write, then +1 for each. */
  version: number;
  status: GrantStatus;
  /** The writer's clock, epoch ms. */
  updatedAt: number;
}

/** What {@link GrantStore.swapGrant} writes. */
export interface GrantWrite {
  secret: Sealed;
  status: GrantStatus;
  updatedAt: number;
}

/**
 * Grants (refresh tokens and their data) per credential, written only by compare-and-set on the
 * version: with refresh-token rotation, a refresh token is spent by its first use, so the store
 * must never take a write made from a grant that is no longer the current one.
 */
export interface GrantStore {
  /** The credential's grant, or null when none was ever written (or the credential was deleted). */
  getGrant(credentialId: string): Promise<GrantState | null>;
  /**
   * Compare-and-set: writes `next` only if the stored version is still `expectedVersion` (0: no
   * grant yet) and returns the new version (expectedVersion + 1); returns null, writing nothing,
   * when someone else wrote first.
   */
  swapGrant(credentialId: string, expectedVersion: number, next: GrantWrite): Promise<number | null>;
}
