import { encodeBase64url } from "../base64url.ts";
import { InvalidInputError } from "../errors.ts";
import type { AssertionKey } from "../keys/import.ts";
import { SERVICE_ACCOUNT_PATTERN, WORKS_ASSERTION_EXPIRES_IN_DEFAULT, WORKS_ASSERTION_EXPIRES_IN_MAX, WORKS_SCOPE_PATTERN } from "./works-rules.ts";
import { signCompact } from "./sign.ts";

/** What goes into a LINE WORKS service-account assertion. */
export interface WorksAssertionOptions {
  /** The app's Client ID (`iss`). */
  clientId: string;
  /** The service account ID (`sub`), e.g. `ab1cd.serviceaccount@example.com`. */
  serviceAccount: string;
  /** Seconds from `iat` to `exp`; default and maximum 3600 (60 minutes). */
  expiresIn?: number;
  /** The current time in epoch milliseconds; pass a corrected clock to absorb skew. Default `Date.now()`. */
  now?: number;
}

/**
 * Checks a Client ID (non-empty, no spaces or controls); returns it.
 *
 * @example
 * ```ts
 * checkWorksClientId("AbCdEf123"); // "AbCdEf123"
 * ```
 */
export function checkWorksClientId(value: unknown, field = "clientId"): string {
  if (typeof value !== "string" || value === "" || value.length > 256 || /[\s\u0000-\u001f]/.test(value)) {
    throw new InvalidInputError(`${field} must be the app's Client ID: a non-empty string without spaces`, { field });
  }
  return value;
}

/**
 * Checks a service account ID: it must contain `@` (`xxxxx.serviceaccount@example.com`).
 *
 * @example
 * ```ts
 * checkServiceAccount("ab1cd.serviceaccount@example.com");
 * ```
 */
export function checkServiceAccount(value: unknown, field = "serviceAccount"): string {
  if (typeof value !== "string" || value.length > 256 || !SERVICE_ACCOUNT_PATTERN.test(value)) {
    throw new InvalidInputError(`${field} must be a service account ID such as "ab1cd.serviceaccount@example.com" (it has an "@")`, { field });
  }
  return value;
}

/**
 * Parses scopes written comma- or space-separated (`"bot,user.read"`, `"bot user.read"`,
 * `"bot, user.read"`) into a list without duplicates; LINE WORKS wants them sent space-separated.
 * Anything else (`;`, `+`, `|`, an empty list, a malformed name) is refused.
 *
 * @example
 * ```ts
 * parseWorksScopes("bot,user.read").join(" "); // "bot user.read"
 * ```
 */
export function parseWorksScopes(value: unknown, field = "scope"): string[] {
  if (typeof value !== "string") throw new InvalidInputError(`${field} must be a string of scopes such as "bot user.read"`, { field });
  const names = value.split(/[\s,]+/).filter((s) => s !== "");
  if (names.length === 0) throw new InvalidInputError(`${field} is empty: give at least one scope, e.g. "bot"`, { field });
  for (const name of names) {
    if (!WORKS_SCOPE_PATTERN.test(name) || name.length > 64) {
      const sep = /[;+|/&]/.exec(name);
      throw new InvalidInputError(
        sep ? `${field} uses "${sep[0]}" between scopes: separate them with spaces or commas ("bot user.read")` : `${field} has "${name.slice(0, 40)}", which is not a scope name (resource[.read], e.g. "user.read")`,
        { field },
      );
    }
  }
  return [...new Set(names)];
}

/**
 * Builds and signs a LINE WORKS service-account assertion (RFC 7523 JWT bearer grant): header
 * `{"alg":"RS256","typ":"JWT"}` (no kid), payload `{"iss":clientId,"sub":serviceAccount,"iat":…,"exp":…}`
 * with integer NumericDates, every segment base64url without padding (seed 003's two classic
 * mistakes cannot happen). Out-of-range lifetimes are refused, never clamped.
 *
 * @example
 * ```ts
 * const key = await importAssertionKey(pkcs8PemFromTheConsole); // once
 * const jwt = await createWorksAssertion(key, { clientId: "AbCdEf123", serviceAccount: "ab1cd.serviceaccount@example.com" });
 * ```
 */
export async function createWorksAssertion(key: AssertionKey, options: WorksAssertionOptions): Promise<string> {
  const clientId = checkWorksClientId(options.clientId);
  const serviceAccount = checkServiceAccount(options.serviceAccount);
  const expiresIn = options.expiresIn ?? WORKS_ASSERTION_EXPIRES_IN_DEFAULT;
  if (!Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > WORKS_ASSERTION_EXPIRES_IN_MAX) {
    throw new InvalidInputError(`expiresIn must be a whole number of seconds from 1 to ${WORKS_ASSERTION_EXPIRES_IN_MAX} (LINE WORKS' limit), got ${String(expiresIn)}`, { field: "expiresIn", code: "ERR_OUT_OF_RANGE" });
  }
  const now = options.now ?? Date.now();
  if (!Number.isFinite(now) || now < 0) throw new InvalidInputError("now must be a time in epoch milliseconds", { field: "now" });
  const iat = Math.floor(now / 1000);
  const header = JSON.stringify({ alg: "RS256", typ: "JWT" });
  const payload = JSON.stringify({ iss: clientId, sub: serviceAccount, iat, exp: iat + expiresIn });
  return signCompact(key, encodeBase64url(header) + "." + encodeBase64url(payload));
}
