// Identifier and opaque-string generators. Everything random comes from node:crypto.
import { randomBytes, randomInt, randomUUID } from "node:crypto";

/** A 10-digit channel ID like the ones LINE assigns (never starting with 0). */
export function newChannelId(): string {
  return String(randomInt(1_000_000_000, 2_000_000_000));
}

/** A 32-hex channel secret. */
export function newChannelSecret(): string {
  return randomBytes(16).toString("hex");
}

/** A bot user ID: `U` + 32 hex, the webhook `destination`. */
export function newUserId(prefix = "U"): string {
  return prefix + randomBytes(16).toString("hex");
}

/** A request ID for X-Line-Request-Id (LINE sends UUIDs). */
export function newRequestId(): string {
  return randomUUID();
}

/** A key_id as LINE's token response carries it: 22 base64url characters. */
export function newKeyId(): string {
  return randomBytes(16).toString("base64url");
}

const JWS_HEADER = Buffer.from('{"alg":"HS256"}').toString("base64url");

/**
 * v2.1 and stateless tokens: LINE's are JWS-shaped opaque strings (`eyJhbGciOiJIUz...`), and
 * the v2.1 verify endpoint tells a non-JWS string apart ("The access token not JWS"), so ours
 * are three base64url segments of random bytes.
 */
export function newJwsToken(): string {
  return `${JWS_HEADER}.${randomBytes(96).toString("base64url")}.${randomBytes(32).toString("base64url")}`;
}

/** Short-lived tokens: LINE's are ~172 characters of standard base64 (`W1TeHCgfH2Liwa...`). */
export function newShortLivedToken(): string {
  return randomBytes(129).toString("base64");
}

/** A reply token: 32 hex, as in LINE's webhook samples. */
export function newReplyToken(): string {
  return randomBytes(16).toString("hex");
}

/** A quote token (opaque base64url). */
export function newQuoteToken(): string {
  return randomBytes(48).toString("base64url");
}

let messageSeq = BigInt(randomInt(0, 1_000_000)) + 500_000_000_000_000_000n;

/** Sent message IDs exceed 2^53 on LINE: they are produced as BigInt and sent as strings. */
export function newMessageId(): string {
  messageSeq += BigInt(randomInt(1, 1000));
  return messageSeq.toString();
}

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** A ULID (26 Crockford base32 characters: 48-bit time in ms, 80 random bits). */
export function newUlid(timeMs: number): string {
  let out = "";
  let t = Math.max(0, Math.floor(timeMs));
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[t % 32]! + out;
    t = Math.floor(t / 32);
  }
  const rnd = randomBytes(16);
  for (let i = 0; i < 16; i++) out += CROCKFORD[rnd[i]! & 31]!;
  return out;
}
