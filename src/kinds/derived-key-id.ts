/**
 * A row ID for tokens whose provider gives none (LINE stateless, LINE WORKS): a prefix and a
 * digest of the token, so the same token always gets the same ID and the ID reveals nothing.
 *
 * @module
 */
import { createHash } from "node:crypto";

/**
 * `<prefix>.` and 22 base64url characters of the token's SHA-256.
 *
 * @example
 * ```ts
 * derivedKeyId("works", accessToken); // "works.3q2-7w..."
 * ```
 */
export function derivedKeyId(prefix: string, accessToken: string): string {
  return `${prefix}.${createHash("sha256").update(accessToken).digest("base64url").slice(0, 22)}`;
}
