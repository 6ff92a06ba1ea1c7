/**
 * Client assertions for the token endpoints, built per request in LINE's corrected time with
 * createLineAssertion (src/core/jwt/assertion.ts) from a key imported once.
 */
import { createLineAssertion } from "../../core/jwt/assertion.ts";
import type { AssertionKey } from "../../core/keys/import.ts";

/**
 * What the client needs to sign assertions for one channel.
 *
 * @example
 * ```ts
 * const creds: LineAssertionCredentials = { channelId: "1234567890", kid, privateKey: await importAssertionKey(jwkText) };
 * ```
 */
export interface LineAssertionCredentials {
  /** The channel ID (iss and sub). */
  channelId: string;
  /** The kid LINE assigned to the registered public key. */
  kid: string;
  /** The private assertion key, imported once with importAssertionKey and reused. */
  privateKey: AssertionKey;
}

/**
 * Signs one assertion whose `exp` is `lifetimeSeconds` after `serverNowMs` (LINE's time).
 *
 * @example
 * ```ts
 * const jwt = await buildAssertion(creds, { serverNowMs: clock.serverNow(), lifetimeSeconds: 300 });
 * ```
 */
export function buildAssertion(
  creds: LineAssertionCredentials,
  options: { serverNowMs: number; lifetimeSeconds: number; tokenExpSeconds?: number | undefined },
): Promise<string> {
  const o: { channelId: string; kid: string; expiresIn: number; now: number; tokenExp?: number } = {
    channelId: creds.channelId,
    kid: creds.kid,
    expiresIn: options.lifetimeSeconds,
    now: options.serverNowMs,
  };
  if (options.tokenExpSeconds !== undefined) o.tokenExp = options.tokenExpSeconds;
  return createLineAssertion(creds.privateKey, o);
}
