// Checks a JWT client assertion the way LINE does, with node:crypto only: deliberately
// independent of kagiya's own JWT code, so a bug there cannot be hidden by the same bug here.
import { verify } from "node:crypto";
import type { Channel, ChannelKey, EmulatorState } from "./state.ts";

/** LINE's `aud` must be exactly this string (trailing slash included). */
export const LINE_AUDIENCE = "https://api.line.me/";
/** `exp` may be at most 30 minutes after now. */
export const MAX_ASSERTION_LIFETIME_S = 30 * 60;
/** `token_exp` may be at most 30 days. */
export const MAX_TOKEN_EXP_S = 30 * 24 * 60 * 60;

/** A failed check, already in one of LINE's two error shapes. */
export type AssertionFailure =
  | { shape: "oauth"; status: number; error: string; description: string }
  | { shape: "message"; status: number; message: string };

/** A checked assertion. */
export interface AssertionOk {
  channel: Channel;
  key: ChannelKey;
  payload: Record<string, unknown>;
}

const B64URL = /^[A-Za-z0-9_-]*$/;

function invalidClient(description: string): AssertionFailure {
  return { shape: "oauth", status: 400, error: "invalid_client", description };
}

function invalidRequest(description: string): AssertionFailure {
  return { shape: "oauth", status: 400, error: "invalid_request", description };
}

function decodeSegment(seg: string): Record<string, unknown> | undefined {
  if (!B64URL.test(seg) || seg.length % 4 === 1) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(seg, "base64url").toString("utf8"));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Verifies `jwt` against the key registered under its kid, then its claims. `requireTokenExp`
 * is true for v2.1 issuance (the stateless endpoint and the kid listing do not use token_exp).
 * The wording of each error_description follows LINE's where known ("Invalid exp",
 * "iss and clientId of key do not match"); the others are the emulator's, in the same style.
 */
export function checkAssertion(state: EmulatorState, jwt: string, requireTokenExp: boolean): AssertionOk | AssertionFailure {
  const parts = jwt.split(".");
  // Segments must be base64url without padding (RFC 7515 §2): `=` or `+/` fail here.
  if (parts.length !== 3 || !parts.every((p) => p.length > 0 && B64URL.test(p))) {
    return invalidRequest("The client_assertion not JWS");
  }
  const [h, p, s] = parts as [string, string, string];
  const header = decodeSegment(h);
  const payload = decodeSegment(p);
  if (!header || !payload) return invalidRequest("The client_assertion not JWS");
  if (header["alg"] !== "RS256") return invalidClient("Invalid alg: must be RS256");
  if (header["typ"] !== "JWT") return invalidClient("Invalid typ: must be JWT");
  const kid = header["kid"];
  if (typeof kid !== "string" || kid === "") return invalidClient("Invalid kid");
  const channelId = state.kidIndex.get(kid);
  const channel = channelId === undefined ? undefined : state.channels.get(channelId);
  const key = channel?.keys.get(kid);
  if (!channel || !key) return { shape: "message", status: 404, message: "Cannot find channel key that satisfies the conditions" };
  const signature = Buffer.from(s, "base64url");
  let good = false;
  try {
    good = signature.length === 256 && verify("sha256", Buffer.from(`${h}.${p}`), key.keyObject, signature);
  } catch {
    good = false;
  }
  if (!good) return invalidClient("Invalid signature");
  if (payload["iss"] !== channel.channelId) return invalidClient("iss and clientId of key do not match");
  if (payload["sub"] !== channel.channelId) return invalidClient("Invalid sub: must equal iss (the channel ID)");
  if (payload["aud"] !== LINE_AUDIENCE) return invalidClient(`Invalid aud: must be "${LINE_AUDIENCE}"`);
  const exp = payload["exp"];
  const nowS = state.now() / 1000;
  if (typeof exp !== "number" || !Number.isFinite(exp) || exp <= nowS || exp > nowS + MAX_ASSERTION_LIFETIME_S) {
    return invalidClient("Invalid exp");
  }
  if (requireTokenExp) {
    const tokenExp = payload["token_exp"];
    if (typeof tokenExp !== "number" || !Number.isInteger(tokenExp) || tokenExp <= 0 || tokenExp > MAX_TOKEN_EXP_S) {
      return invalidRequest("Invalid token_exp");
    }
  }
  return { channel, key, payload };
}
