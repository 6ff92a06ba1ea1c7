/**
 * Sealing of grant secrets: a credential's refresh token and the data its kind keeps beside it
 * (scope, ID token claims, …), sealed as one JSON object at table "grants", row = credential ID,
 * column "secret" (see {@link GrantStore}).
 *
 * @module
 */
import { InvalidInputError } from "../core/errors.ts";
import { SealedValueError } from "./errors.ts";
import type { SealContext, Sealer } from "./sealed.ts";
import type { Sealed } from "./types.ts";

/**
 * A grant with its secret open: the refresh token, and whatever JSON data the kind keeps with it.
 * Every field is secret: never log it.
 */
export interface GrantSecret {
  /** The refresh token to use next. */
  refreshToken: string;
  /** Kind data kept with it (JSON values: scope, ID token claims, …). */
  [name: string]: unknown;
}

/**
 * Where a credential's grant is sealed: grants / credentialId / secret.
 *
 * @example
 * ```ts
 * sealer.open(state.secret, grantContext(state.credentialId));
 * ```
 */
export function grantContext(credentialId: string): SealContext {
  return { table: "grants", row: credentialId, column: "secret" };
}

/**
 * Seals a grant for the credential. Throws InvalidInputError when it has no refresh token (the
 * message never shows a value).
 *
 * @example
 * ```ts
 * await store.swapGrant(id, 0, { secret: sealGrant(sealer, id, { refreshToken }), status: "active", updatedAt: Date.now() });
 * ```
 */
export function sealGrant(sealer: Sealer, credentialId: string, grant: GrantSecret): Sealed {
  if (typeof grant?.refreshToken !== "string" || grant.refreshToken === "") throw new InvalidInputError(`the grant of ${credentialId} has no refresh token: nothing to seal`, { field: "refreshToken" });
  return sealer.seal(JSON.stringify(grant), grantContext(credentialId));
}

/**
 * Opens a stored grant. Throws {@link SealedValueError} for a value that does not open or is not
 * a grant, MasterKeyError for a foreign key version.
 *
 * @example
 * ```ts
 * const state = await store.getGrant(id);
 * const { refreshToken } = openGrant(sealer, state!);
 * ```
 */
export function openGrant(sealer: Sealer, state: { credentialId: string; secret: Sealed }): GrantSecret {
  const text = sealer.open(state.secret, grantContext(state.credentialId));
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    v = null;
  }
  const o = v as { refreshToken?: unknown } | null;
  if (o === null || typeof o !== "object" || Array.isArray(o) || typeof o.refreshToken !== "string") {
    throw new SealedValueError(`the grant of ${state.credentialId} is not a grant (restore it from a backup, or log in again)`);
  }
  return o as GrantSecret;
}
