import { encodeBase64url } from "../base64url.ts";
import { InvalidInputError } from "../errors.ts";
import type { AssertionKey } from "../keys/import.ts";
import { ASSERTION_EXPIRES_IN_DEFAULT, ASSERTION_EXPIRES_IN_MAX, LINE_AUDIENCE, TOKEN_EXP_DEFAULT, TOKEN_EXP_MAX } from "./line-rules.ts";
import { signCompact } from "./sign.ts";

/** What goes into a LINE client assertion. */
export interface LineAssertionOptions {
  /** The channel ID (iss and sub), e.g. "1234567890". */
  channelId: string;
  /** The kid LINE assigned when the public key was registered. */
  kid: string;
  /** Seconds until the assertion expires; default 300, at most 1800 (30 minutes). */
  expiresIn?: number;
  /** Seconds the issued access token should live; default and maximum 2592000 (30 days). */
  tokenExp?: number;
  /** The current time in epoch milliseconds; pass a corrected clock to absorb skew. Default `Date.now()`. */
  now?: number;
}

function checkSeconds(value: number, name: string, max: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidInputError(`${name} must be a whole number of seconds from 1 to ${max}, got ${String(value)}`, { field: name, code: "ERR_OUT_OF_RANGE" });
  }
  if (value > max) {
    throw new InvalidInputError(`${name} of ${value} s is over LINE's limit of ${max} s: use at most ${max}`, { field: name, code: "ERR_OUT_OF_RANGE" });
  }
  return value;
}

function checkText(value: unknown, name: string): string {
  if (typeof value !== "string" || value === "" || /[\s\u0000-\u001f]/.test(value)) {
    throw new InvalidInputError(`${name} must be a non-empty string without spaces`, { field: name });
  }
  return value;
}

/**
 * Builds and signs a LINE channel access token v2.1 client assertion (RFC 7523 JWT):
 * header `{"alg":"RS256","typ":"JWT","kid":…}`, payload
 * `{"iss":channelId,"sub":channelId,"aud":"https://api.line.me/","exp":…,"token_exp":…}` with
 * integer NumericDates. Out-of-range lifetimes are refused with an {@link InvalidInputError}
 * naming the limit, never clamped.
 *
 * @example
 * ```ts
 * const key = await importAssertionKey(privateJwkText); // once
 * const jwt = await createLineAssertion(key, { channelId: "1234567890", kid: "536e453c-aa93-4449-8e90-add2608783c6" });
 * ```
 */
export async function createLineAssertion(key: AssertionKey, options: LineAssertionOptions): Promise<string> {
  const channelId = checkText(options.channelId, "channelId");
  const kid = checkText(options.kid, "kid");
  const expiresIn = checkSeconds(options.expiresIn ?? ASSERTION_EXPIRES_IN_DEFAULT, "expiresIn", ASSERTION_EXPIRES_IN_MAX);
  const tokenExp = checkSeconds(options.tokenExp ?? TOKEN_EXP_DEFAULT, "tokenExp", TOKEN_EXP_MAX);
  const now = options.now ?? Date.now();
  if (!Number.isFinite(now) || now < 0) throw new InvalidInputError("now must be a time in epoch milliseconds", { field: "now" });
  const header = JSON.stringify({ alg: "RS256", typ: "JWT", kid });
  const payload = JSON.stringify({ iss: channelId, sub: channelId, aud: LINE_AUDIENCE, exp: Math.floor(now / 1000) + expiresIn, token_exp: tokenExp });
  return signCompact(key, encodeBase64url(header) + "." + encodeBase64url(payload));
}
