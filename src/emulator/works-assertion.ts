// Checks a LINE WORKS service-account assertion with node:crypto alone, deliberately independent
// of kagiya's JWT code. Each of seed 003's mistakes gets its own RFC 6749 `invalid_grant`
// description (RFC 7523 §3.1: an invalid assertion is invalid_grant).
import { verify } from "node:crypto";
import type { WorksApp } from "./works-state.ts";

/** `exp - iat` may be at most this (60 minutes). */
export const WORKS_MAX_ASSERTION_LIFETIME_S = 3600;
/** An `iat` up to this far in the future is tolerated (clock skew). */
export const WORKS_IAT_LEEWAY_S = 60;

/** A refused assertion: the RFC 6749 error to answer. */
export interface WorksAssertionFailure {
  error: "invalid_grant";
  description: string;
}

const SEGMENT_NAMES = ["header", "payload", "signature"] as const;

function grant(description: string): WorksAssertionFailure {
  return { error: "invalid_grant", description };
}

function decodeObject(segment: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Verifies `jwt` for `app` at `nowMs`: base64url segments without padding, RS256 with the app's
 * key, `iss` = Client ID, `sub` = service account ID, numeric `iat` and `exp`, `exp` in the future
 * and at most 60 minutes after `iat`. Returns undefined when the assertion is good.
 */
export function checkWorksAssertion(app: WorksApp, jwt: string, nowMs: number): WorksAssertionFailure | undefined {
  const parts = jwt.split(".");
  if (parts.length !== 3 || parts.some((p) => p === "")) return grant("The assertion is not a JWT: it needs three non-empty dot-separated segments");
  for (const [i, part] of parts.entries()) {
    const name = SEGMENT_NAMES[i]!;
    if (part.includes("=")) return grant(`The assertion's ${name} segment has "=" padding: JWT segments are base64url without padding (RFC 7515 section 2)`);
    if (/[+/]/.test(part)) return grant(`The assertion's ${name} segment uses "+" or "/": that is standard Base64, JWT segments are base64url (RFC 7515 section 2)`);
    if (!/^[A-Za-z0-9_-]+$/.test(part)) return grant(`The assertion's ${name} segment is not base64url`);
  }
  const [h, p, s] = parts as [string, string, string];
  const header = decodeObject(h);
  const payload = decodeObject(p);
  if (!header || !payload) return grant("The assertion's header or payload is not a base64url-encoded JSON object");
  if (header["alg"] !== "RS256") return grant("The assertion's alg must be RS256");
  if (header["typ"] !== undefined && header["typ"] !== "JWT") return grant('The assertion\'s typ must be "JWT"');
  let good = false;
  try {
    good = verify("sha256", Buffer.from(`${h}.${p}`), app.key, Buffer.from(s, "base64url"));
  } catch {
    good = false;
  }
  if (!good) return grant("The assertion's signature does not verify with the app's public key");
  if (payload["iss"] !== app.clientId) return grant("The assertion's iss must be the app's Client ID");
  if (payload["sub"] !== app.serviceAccount) return grant("The assertion's sub must be the app's service account ID");
  for (const claim of ["iat", "exp"] as const) {
    const v = payload[claim];
    if (v === undefined) return grant(`The assertion has no ${claim}`);
    if (typeof v !== "number" || !Number.isFinite(v)) return grant(`The assertion's ${claim} must be a number (NumericDate, seconds since the epoch), not ${typeof v === "string" ? "a string" : typeof v} (RFC 7519 section 4.1)`);
  }
  const iat = payload["iat"] as number;
  const exp = payload["exp"] as number;
  const nowS = nowMs / 1000;
  if (exp <= nowS) return grant("The assertion has expired (exp is in the past)");
  if (iat > nowS + WORKS_IAT_LEEWAY_S) return grant("The assertion's iat is in the future: check the clock");
  if (exp - iat > WORKS_MAX_ASSERTION_LIFETIME_S) return grant(`The assertion lives ${exp - iat} s: exp may be at most ${WORKS_MAX_ASSERTION_LIFETIME_S} s after iat`);
  return undefined;
}
