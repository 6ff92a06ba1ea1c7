// LINE Login's state in the emulator: codes, access and refresh tokens, the test user, the ES256
// signing key and per-channel login settings. Kept in memory only (not in the state file): a
// restarted emulator forgets its logins, as a test wants.
import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from "node:crypto";
import type { Emulator } from "./context.ts";

/** Access tokens live 30 days (LINE Login v2.1). */
export const LOGIN_ACCESS_LIFETIME_S = 30 * 24 * 60 * 60;
/** A refresh token is valid until 90 days after the access token it came with was issued. */
export const LOGIN_REFRESH_LIFETIME_S = 90 * 24 * 60 * 60;
/** Authorization codes: 10 minutes, single use. */
export const LOGIN_CODE_LIFETIME_S = 10 * 60;
/** ID tokens: 1 hour. */
export const LOGIN_ID_TOKEN_LIFETIME_S = 60 * 60;
/** LINE Login's issuer, as its ID tokens state it whatever host serves them. */
export const LOGIN_ISSUER = "https://access.line.me";

/** Per-channel login behaviour, set through `POST /__emulator/line-login`. */
export interface LoginSettings {
  /** `HS256` (web login, keyed with the channel secret) or `ES256` (LIFF/native, from the JWKS). */
  idTokenAlg: "HS256" | "ES256";
  /** The test user cancels the consent screen: the callback gets `error=access_denied`. */
  deny: boolean;
  userId: string;
  displayName: string;
  email: string;
}

export interface LoginCode {
  channelId: string;
  redirectUri: string;
  scope: string[];
  nonce: string | undefined;
  codeChallenge: string | undefined;
  expiresAt: number;
  used: boolean;
  /** Access tokens issued with this code: revoked when it is replayed (RFC 6749 §4.1.2). */
  issued: string[];
}

export interface LoginToken {
  accessToken: string;
  refreshToken: string;
  channelId: string;
  userId: string;
  scope: string[];
  issuedAt: number;
  expiresAt: number;
  refreshExpiresAt: number;
  revoked: boolean;
}

export class LoginState {
  readonly settings = new Map<string, LoginSettings>();
  readonly codes = new Map<string, LoginCode>();
  readonly tokens = new Map<string, LoginToken>();
  /** refresh token → the latest access token issued for it. */
  readonly refresh = new Map<string, LoginToken>();
  readonly kid = randomBytes(8).toString("hex");
  readonly #privateKey: KeyObject;
  readonly publicKey: KeyObject;

  constructor() {
    const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
    this.#privateKey = createPrivateKey(pair.privateKey.export({ format: "pem", type: "pkcs8" }));
    this.publicKey = createPublicKey(this.#privateKey);
  }

  settingsFor(channelId: string): LoginSettings {
    let s = this.settings.get(channelId);
    if (!s) {
      s = { idTokenAlg: "HS256", deny: false, userId: `U${randomBytes(16).toString("hex")}`, displayName: "Test User", email: "test-user@example.com" };
      this.settings.set(channelId, s);
    }
    return s;
  }

  /** The public JWKS (`/oauth2/v2.1/certs`). */
  jwks(): { keys: Array<Record<string, unknown>> } {
    const jwk = this.publicKey.export({ format: "jwk" });
    return { keys: [{ kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, kid: this.kid, alg: "ES256", use: "sig" }] };
  }

  /** Signs an ID token the way the channel's settings say. */
  signIdToken(payload: Record<string, unknown>, alg: "HS256" | "ES256", channelSecret: string): string {
    const header = alg === "HS256" ? { typ: "JWT", alg } : { typ: "JWT", alg, kid: this.kid };
    const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(payload))}`;
    const sig = alg === "HS256"
      ? createHmac("sha256", channelSecret).update(input).digest()
      : sign("sha256", Buffer.from(input), { key: this.#privateKey, dsaEncoding: "ieee-p1363" });
    return `${input}.${sig.toString("base64url")}`;
  }

  /** The payload of an ID token whose signature verifies (either algorithm), else undefined. */
  verifyIdToken(token: string, channelSecret: string): Record<string, unknown> | undefined {
    const parts = token.split(".");
    if (parts.length !== 3) return undefined;
    try {
      const header = JSON.parse(Buffer.from(parts[0]!, "base64url").toString("utf8")) as { alg?: unknown };
      const input = Buffer.from(`${parts[0]}.${parts[1]}`);
      const sig = Buffer.from(parts[2]!, "base64url");
      const ok = header.alg === "HS256"
        ? createHmac("sha256", channelSecret).update(input).digest().equals(sig)
        : header.alg === "ES256" && verify("sha256", input, { key: this.publicKey, dsaEncoding: "ieee-p1363" }, sig);
      if (!ok) return undefined;
      const payload = JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8")) as unknown;
      return payload !== null && typeof payload === "object" && !Array.isArray(payload) ? (payload as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }
}

function b64(text: string): string {
  return Buffer.from(text).toString("base64url");
}

const states = new WeakMap<Emulator, LoginState>();

/** The LINE Login state of one running emulator (created on first use). */
export function loginState(em: Emulator): LoginState {
  let s = states.get(em);
  if (!s) states.set(em, (s = new LoginState()));
  return s;
}
