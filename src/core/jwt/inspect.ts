import { decodeBase64Lenient } from "../base64url.ts";
import { JwsFormatError } from "../errors.ts";
import type { JwtFinding, JwtFindingCode } from "../findings.ts";
import type { AssertionKey, VerifyKey } from "../keys/import.ts";
import { ASSERTION_EXPIRES_IN_MAX, LINE_ALG, LINE_AUDIENCE, TOKEN_EXP_MAX } from "./line-rules.ts";
import { SERVICE_ACCOUNT_PATTERN, WORKS_ASSERTION_EXPIRES_IN_MAX } from "./works-rules.ts";

/** Options for {@link inspectJws}. */
export interface InspectOptions {
  /** Check the signature with this key; without it the signature is "not-checked". */
  key?: VerifyKey | AssertionKey;
  /** The current time in epoch milliseconds (default `Date.now()`), for exp and nbf. */
  now?: number;
  /**
   * Whose assertion rules to apply: `line` (default: channel access token v2.1) or `works`
   * (LINE WORKS service account: no kid, no aud, no token_exp, numeric iat, `exp - iat` ≤ 3600,
   * `sub` a service account ID).
   */
  rules?: "line" | "works";
}

/** What {@link inspectJws} found; the shape `kagiya jwt inspect --json` prints. */
export interface InspectResult {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signature: "valid" | "invalid" | "not-checked";
  /** Empty when the token meets RFC 7515/7519/7523 and LINE's rules. */
  findings: JwtFinding[];
}

const SEGMENTS = ["header", "payload", "signature"] as const;
const RS256_SIGNATURE_BYTES = 256;

function describe(value: unknown): string {
  if (typeof value === "string") return `the string ${JSON.stringify(value.length > 60 ? value.slice(0, 57) + "..." : value)}`;
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  return `${typeof value === "object" ? "an object" : String(value)}`;
}

function decodeObject(segment: string, name: "header" | "payload"): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(decodeBase64Lenient(segment));
  } catch {
    throw new JwsFormatError(`not a JWS: the ${name} segment is not base64url-encoded UTF-8`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new JwsFormatError(`not a JWS: the ${name} segment does not decode to JSON (truncated or not a JWT?)`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new JwsFormatError(`not a JWT: the ${name} is JSON but not an object`);
  }
  return value as Record<string, unknown>;
}

/**
 * Decodes any compact JWS and names every mistake against RFC 7515/7519/7523 and LINE's
 * assertion rules (codes in `JWT_FINDING_CODES`): base64url alphabet and padding, alg, typ,
 * kid, NumericDates that are strings or fractions, exp in the past or over 30 minutes ahead,
 * aud not exactly "https://api.line.me/", iss ≠ sub, token_exp, and with `key` the
 * signature. Throws {@link JwsFormatError} when the text is not a JWS at all.
 *
 * @example
 * ```ts
 * const { findings, signature } = await inspectJws(jwt, { key: await importVerifyKey(publicJwk) });
 * for (const f of findings) console.log(`${f.field}: ${f.message} [${f.code}]`);
 * ```
 */
export async function inspectJws(token: string, options: InspectOptions = {}): Promise<InspectResult> {
  const works = options.rules === "works";
  const who = works ? "LINE WORKS" : "LINE";
  const maxLifetime = works ? WORKS_ASSERTION_EXPIRES_IN_MAX : ASSERTION_EXPIRES_IN_MAX;
  const text = token.trim();
  if (text === "") throw new JwsFormatError("no token given: expected a compact JWS (header.payload.signature)");
  const segments = text.split(".");
  if (segments.length !== 3) {
    throw new JwsFormatError(`not a compact JWS: expected three dot-separated segments (header.payload.signature), found ${segments.length}`);
  }
  const findings: JwtFinding[] = [];
  const add = (code: JwtFindingCode, field: string, message: string) => findings.push({ code, field, message });

  segments.forEach((segment, i) => {
    const name = SEGMENTS[i]!;
    if (/[^A-Za-z0-9_\-+/=]/.test(segment)) throw new JwsFormatError(`not a JWS: the ${name} segment has characters outside base64url`);
    if (segment.includes("=")) add("JWT_B64_PADDING", name, `the ${name} segment ends with "=" padding: JWS segments are base64url without padding`);
    if (/[+/]/.test(segment)) add("JWT_B64_ALPHABET", name, `the ${name} segment uses "+" or "/": that is base64, JWS needs base64url ("-" and "_")`);
  });
  const header = decodeObject(segments[0]!, "header");
  const payload = decodeObject(segments[1]!, "payload");
  const now = Math.floor((options.now ?? Date.now()) / 1000);

  // Header.
  const alg = header["alg"];
  if (alg === undefined) add("JWT_ALG_MISSING", "header.alg", `the header has no alg: ${who} needs "RS256"`);
  else if (typeof alg === "string" && alg.toLowerCase() === "none") add("JWT_ALG_NONE", "header.alg", `alg is "none": the token is unsigned; ${who} needs "RS256"`);
  else if (typeof alg === "string" && /^HS(256|384|512)$/.test(alg)) add("JWT_ALG_HMAC", "header.alg", `alg is "${alg}", a shared-secret MAC: ${who} needs an "RS256" signature made with your ${works ? "service account's private key" : "assertion key"}`);
  else if (alg !== LINE_ALG) add("JWT_ALG_NOT_RS256", "header.alg", `alg is ${describe(alg)}: ${who} needs "RS256"`);
  const typ = header["typ"];
  if (typ === undefined) add("JWT_TYP_MISSING", "header.typ", `the header has no typ: ${who} wants "JWT"`);
  else if (typ !== "JWT") add("JWT_TYP_NOT_JWT", "header.typ", `typ is ${describe(typ)}: ${who} wants "JWT"`);
  const kid = header["kid"];
  if (works) {
    if (kid !== undefined) add("JWT_KID_PRESENT", "header.kid", "the header has a kid: LINE WORKS service-account assertions carry none (the app has one key)");
  } else if (kid === undefined) add("JWT_KID_MISSING", "header.kid", "the header has no kid: put the kid LINE assigned when the public key was registered");
  else if (typeof kid !== "string" || kid === "") add("JWT_KID_NOT_STRING", "header.kid", `kid is ${describe(kid)}: it must be the kid string LINE assigned`);
  else if (options.key?.kid !== undefined && options.key.kid !== kid) {
    add("JWT_KID_KEY_MISMATCH", "header.kid", `kid "${kid}" differs from the key's kid "${options.key.kid}": the token was made for another key`);
  }

  // Identity claims.
  if (works) checkWorksIdentity(payload, add);
  else checkLineIdentity(payload, add);

  // NumericDates: report the type, then still judge the value when a string holds a number.
  const dates: Record<string, number | undefined> = {};
  for (const claim of ["exp", "iat", "nbf"] as const) {
    const value = payload[claim];
    const upper = claim.toUpperCase() as "EXP" | "IAT" | "NBF";
    if (value === undefined) continue;
    if (typeof value === "number" && Number.isFinite(value)) {
      if (!Number.isInteger(value)) add(`JWT_${upper}_NOT_INTEGER`, `payload.${claim}`, `${claim} is ${value}: NumericDates for LINE are whole seconds`);
      dates[claim] = value;
    } else {
      add(`JWT_${upper}_NOT_NUMBER`, `payload.${claim}`, `${claim} is ${describe(value)}: a NumericDate must be a JSON number of seconds, not quoted`);
      if (typeof value === "string" && /^\d+(\.\d+)?$/.test(value.trim())) dates[claim] = Number(value);
    }
  }
  const exp = dates["exp"];
  if (payload["exp"] === undefined) add("JWT_EXP_MISSING", "payload.exp", `exp is missing: set it to at most ${maxLifetime} s after ${works ? "iat" : "now"}`);
  if (works && payload["iat"] === undefined) add("JWT_IAT_MISSING", "payload.iat", "iat is missing: LINE WORKS wants the issue time as a NumericDate (seconds since the epoch)");
  if (exp !== undefined) {
    const iso = new Date(exp * 1000).toISOString();
    if (exp <= now) add("JWT_EXP_PAST", "payload.exp", `exp ${exp} (${iso}) is in the past: the assertion has expired`);
    const iat = dates["iat"];
    const limit = `${who} allows at most ${maxLifetime} s (${maxLifetime / 60} minutes)`;
    if (iat !== undefined && exp - iat > maxLifetime) add("JWT_EXP_TOO_FAR", "payload.exp", `exp is ${exp - iat} s after iat: ${limit}`);
    else if (exp - now > maxLifetime) add("JWT_EXP_TOO_FAR", "payload.exp", `exp is ${exp - now} s from now: ${limit}`);
  }
  const nbf = dates["nbf"];
  if (nbf !== undefined && nbf > now) add("JWT_NBF_FUTURE", "payload.nbf", `nbf ${nbf} is in the future: the token is not usable yet`);

  // token_exp is a duration in seconds, not a NumericDate; LINE WORKS has none.
  if (works) {
    if (payload["token_exp"] !== undefined) add("JWT_TOKEN_EXP_PRESENT", "payload.token_exp", "token_exp is LINE's claim: LINE WORKS sets the access token lifetime in the console (1 h or 24 h); remove it");
  } else checkTokenExp(payload["token_exp"], add);

  // Signature.
  let signatureBytes: Uint8Array | undefined;
  if (segments[2] === "") add("JWT_SIGNATURE_MISSING", "signature", "the signature segment is empty: the token is unsigned");
  else {
    try {
      signatureBytes = decodeBase64Lenient(segments[2]!);
    } catch {
      signatureBytes = undefined;
    }
    if (signatureBytes === undefined || (alg === LINE_ALG && signatureBytes.length !== RS256_SIGNATURE_BYTES)) {
      add("JWT_SIGNATURE_LENGTH", "signature", `the signature is ${signatureBytes === undefined ? "not decodable (truncated?)" : `${signatureBytes.length} bytes`}: an RS256 signature with a 2048-bit key is ${RS256_SIGNATURE_BYTES} bytes`);
    }
  }
  let signature: InspectResult["signature"] = "not-checked";
  if (options.key) {
    const ok = alg === LINE_ALG && signatureBytes !== undefined
      && (await options.key.verify(new TextEncoder().encode(segments[0] + "." + segments[1]), signatureBytes));
    signature = ok ? "valid" : "invalid";
    if (!ok) {
      add("JWT_SIGNATURE_INVALID", "signature", alg === LINE_ALG
        ? `the signature does not verify with the given key (thumbprint ${options.key.thumbprint}): signed with another key, or the header or payload was changed after signing`
        : "the signature cannot verify: only RS256 is accepted");
    }
  }
  return { header, payload, signature, findings };
}

type Add = (code: JwtFindingCode, field: string, message: string) => void;

function checkLineIdentity(payload: Record<string, unknown>, add: Add): void {
  for (const claim of ["iss", "sub"] as const) {
    const value = payload[claim];
    const upper = claim.toUpperCase() as "ISS" | "SUB";
    if (value === undefined) add(`JWT_${upper}_MISSING`, `payload.${claim}`, `${claim} is missing: set it to the channel ID (a string)`);
    else if (typeof value !== "string") add(`JWT_${upper}_NOT_STRING`, `payload.${claim}`, `${claim} is ${describe(value)}: the channel ID must be a string, e.g. "1234567890"`);
  }
  if (payload["iss"] !== undefined && payload["sub"] !== undefined && String(payload["iss"]) !== String(payload["sub"])) {
    add("JWT_ISS_SUB_MISMATCH", "payload.sub", "iss and sub differ: both must be the channel ID");
  }
  const aud = payload["aud"];
  if (aud === undefined) add("JWT_AUD_MISSING", "payload.aud", `aud is missing: set it to exactly "${LINE_AUDIENCE}"`);
  else if (Array.isArray(aud)) add("JWT_AUD_ARRAY", "payload.aud", `aud is an array: LINE wants the single string "${LINE_AUDIENCE}"`);
  else if (aud !== LINE_AUDIENCE) {
    const s = typeof aud === "string" ? aud : "";
    if (s === LINE_AUDIENCE.slice(0, -1)) add("JWT_AUD_NO_TRAILING_SLASH", "payload.aud", `aud "${s}" lacks the trailing slash: it must be exactly "${LINE_AUDIENCE}"`);
    else if (/^http:\/\/api\.line\.me(\/|$)/.test(s)) add("JWT_AUD_HTTP", "payload.aud", `aud "${s}" uses http: it must be exactly "${LINE_AUDIENCE}"`);
    else if (s.startsWith(LINE_AUDIENCE)) add("JWT_AUD_EXTRA_PATH", "payload.aud", `aud "${s.slice(0, 80)}" has a path after the host: it must be exactly "${LINE_AUDIENCE}"`);
    else add("JWT_AUD_WRONG", "payload.aud", `aud is ${describe(aud)}: it must be exactly "${LINE_AUDIENCE}"`);
  }
}

function checkWorksIdentity(payload: Record<string, unknown>, add: Add): void {
  const iss = payload["iss"];
  if (iss === undefined) add("JWT_ISS_MISSING", "payload.iss", "iss is missing: set it to the app's Client ID (a string)");
  else if (typeof iss !== "string") add("JWT_ISS_NOT_STRING", "payload.iss", `iss is ${describe(iss)}: the Client ID must be a string`);
  const sub = payload["sub"];
  if (sub === undefined) add("JWT_SUB_MISSING", "payload.sub", "sub is missing: set it to the service account ID (xxxxx.serviceaccount@example.com)");
  else if (typeof sub !== "string") add("JWT_SUB_NOT_STRING", "payload.sub", `sub is ${describe(sub)}: the service account ID must be a string`);
  else if (!SERVICE_ACCOUNT_PATTERN.test(sub)) {
    add("JWT_SUB_NOT_SERVICE_ACCOUNT", "payload.sub", `sub is ${describe(sub)}: LINE WORKS wants the service account ID, which has an "@" (xxxxx.serviceaccount@example.com)`);
  }
  if (payload["aud"] !== undefined) add("JWT_AUD_PRESENT", "payload.aud", "aud is present: LINE WORKS service-account assertions carry no aud (https://api.line.me/ is LINE's)");
}

function checkTokenExp(tokenExp: unknown, add: Add): void {
  if (tokenExp === undefined) add("JWT_TOKEN_EXP_MISSING", "payload.token_exp", `token_exp is missing: set the access token lifetime in seconds (at most ${TOKEN_EXP_MAX})`);
  else {
    let seconds: number | undefined;
    if (typeof tokenExp === "number" && Number.isFinite(tokenExp)) {
      seconds = tokenExp;
      if (!Number.isInteger(tokenExp)) add("JWT_TOKEN_EXP_NOT_INTEGER", "payload.token_exp", `token_exp is ${tokenExp}: it must be whole seconds`);
    } else {
      add("JWT_TOKEN_EXP_NOT_NUMBER", "payload.token_exp", `token_exp is ${describe(tokenExp)}: it must be a JSON number of seconds, not quoted`);
      if (typeof tokenExp === "string" && /^-?\d+$/.test(tokenExp.trim())) seconds = Number(tokenExp);
    }
    if (seconds !== undefined && seconds <= 0) add("JWT_TOKEN_EXP_NOT_POSITIVE", "payload.token_exp", `token_exp is ${seconds}: it must be a positive number of seconds`);
    if (seconds !== undefined && seconds > TOKEN_EXP_MAX) add("JWT_TOKEN_EXP_TOO_LONG", "payload.token_exp", `token_exp is ${seconds} s: LINE allows at most ${TOKEN_EXP_MAX} s (30 days)`);
  }

}
