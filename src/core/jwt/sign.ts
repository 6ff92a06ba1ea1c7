import { encodeBase64url } from "../base64url.ts";
import { InvalidInputError } from "../errors.ts";
import type { AssertionKey } from "../keys/import.ts";

/**
 * Signs a JWS in compact serialization with RS256. Strings are used byte for byte (their UTF-8,
 * base64url-encoded, never re-serialized), which is how published test vectors are reproduced;
 * objects are serialized with `JSON.stringify`. The header must be a JSON object with
 * `"alg": "RS256"`, since that is the only algorithm the key signs with.
 *
 * @example
 * ```ts
 * const jws = await signJws(key, '{"alg":"RS256"}', '{"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}');
 * ```
 */
export async function signJws(key: AssertionKey, header: string | Record<string, unknown>, payload: string | Record<string, unknown>): Promise<string> {
  const headerText = typeof header === "string" ? header : JSON.stringify(header);
  const payloadText = typeof payload === "string" ? payload : JSON.stringify(payload);
  let parsed: unknown;
  try {
    parsed = JSON.parse(headerText);
  } catch {
    throw new InvalidInputError("the JWS header is not valid JSON", { field: "header" });
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new InvalidInputError("the JWS header must be a JSON object", { field: "header" });
  }
  if ((parsed as Record<string, unknown>)["alg"] !== "RS256") {
    throw new InvalidInputError('the JWS header must say "alg":"RS256" (the only algorithm an assertion key signs with)', { field: "header" });
  }
  return signCompact(key, encodeBase64url(headerText) + "." + encodeBase64url(payloadText));
}

/** Appends an RS256 signature to an already-encoded `header.payload` signing input. */
export async function signCompact(key: AssertionKey, signingInput: string): Promise<string> {
  const signature = await key.sign(signingInput);
  return signingInput + "." + encodeBase64url(signature);
}
