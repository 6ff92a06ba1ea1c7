// LINE WORKS' side of the emulator: apps (service accounts), bots, the token ledger and the bot
// message log. In memory only (not in --state files), beside the LINE state, on the same clock.
import { createPublicKey, X509Certificate, type KeyObject } from "node:crypto";
import type { Emulator } from "./context.ts";
import type { EmulatorState } from "./state.ts";

/** Access token lifetimes an app can be set to (console setting since December 2024). */
export const WORKS_TOKEN_LIFETIMES = [3600, 86400] as const;
/** Refresh tokens live 90 days. */
export const WORKS_REFRESH_LIFETIME_S = 90 * 24 * 3600;
/** Scopes an app has enabled unless told otherwise. */
export const WORKS_DEFAULT_SCOPES = ["bot", "bot.message", "bot.read", "user.read"];

/** A LINE WORKS app with its service account. */
export interface WorksApp {
  clientId: string;
  clientSecret: string;
  serviceAccount: string;
  domainId: string;
  /** The public key assertions are verified with. */
  key: KeyObject;
  /** Refresh-token rotation (a console setting, off by default). */
  rotation: boolean;
  tokenLifetime: 3600 | 86400;
  scopes: Set<string>;
  /** What a dead access token gets from the bot API: 401, or 403 as the official Python sample expects. */
  unauthorizedStatus: 401 | 403;
  createdAt: number;
}

/** A bot: ID, secret (for callback signatures) and an optional per-minute rate limit. */
export interface WorksBot {
  botId: string;
  botSecret: string;
  rateLimitPerMinute: number | null;
  windowStart: number;
  windowCount: number;
}

/** One issued token, access or refresh. Times are epoch ms on the emulator clock. */
export interface WorksTokenRecord {
  token: string;
  type: "access" | "refresh";
  clientId: string;
  scopes: string[];
  grant: "jwt-bearer" | "refresh_token" | "authorization_code";
  /** The user a user-account token (authorization code) acts for; absent for service accounts. */
  userId?: string;
  /** The authorization code a user-account token came from (a replayed code revokes them). */
  code?: string;
  issuedAt: number;
  expiresAt: number;
  revokedAt: number | null;
  /**
   * Refresh tokens: how many times the token was sent to the token endpoint, accepted or refused
   * (a witness for "a refresh token is never used twice"); always 0 for access tokens.
   */
  uses: number;
}

/** A message a bot sent. */
export interface WorksMessageRecord {
  botId: string;
  userId: string | null;
  channelId: string | null;
  clientId: string;
  content: unknown;
  requestId: string;
  at: number;
}

/** An authorization code of the user-account login: 10 minutes, single use. */
export interface WorksCode {
  clientId: string;
  redirectUri: string;
  scopes: string[];
  userId: string;
  expiresAt: number;
  used: boolean;
}

/** Authorization codes live 10 minutes. */
export const WORKS_CODE_LIFETIME_S = 600;

/** The state of one token at `now`. */
export function worksTokenState(t: WorksTokenRecord, now: number): "valid" | "revoked" | "expired" {
  if (t.revokedAt !== null) return "revoked";
  return t.expiresAt <= now ? "expired" : "valid";
}

/** Everything LINE WORKS in one emulator. */
export class WorksState {
  apps = new Map<string, WorksApp>();
  bots = new Map<string, WorksBot>();
  tokens = new Map<string, WorksTokenRecord>();
  codes = new Map<string, WorksCode>();
  messages: WorksMessageRecord[] = [];

  reset(): void {
    this.apps.clear();
    this.bots.clear();
    this.tokens.clear();
    this.codes.clear();
    this.messages = [];
  }
}

const states = new WeakMap<EmulatorState, WorksState>();

/** The LINE WORKS state of an emulator (created on first use). */
export function worksOf(em: Emulator): WorksState {
  let s = states.get(em.state);
  if (!s) states.set(em.state, (s = new WorksState()));
  return s;
}

/**
 * Reads the key assertions are checked with: a JWK object, or PEM text (SPKI public key, X.509
 * certificate, or the private key itself, whose public half is taken). Returns the problem as a
 * string when it is not an RSA key of at least 2048 bits.
 */
export function readWorksKey(input: unknown): KeyObject | string {
  let key: KeyObject;
  try {
    if (typeof input === "string") {
      key = input.includes("-----BEGIN CERTIFICATE-----") ? new X509Certificate(input).publicKey : createPublicKey(input);
    } else if (input !== null && typeof input === "object" && !Array.isArray(input)) {
      const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = input as Record<string, unknown>;
      key = createPublicKey({ key: pub as never, format: "jwk" });
    } else return "publicKey must be a JWK object or PEM text (public key, certificate or the private key)";
  } catch {
    return "publicKey is not a readable key (a JWK object, or PEM text)";
  }
  if (key.asymmetricKeyType !== "rsa") return "publicKey must be an RSA key";
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < 2048) return `publicKey must be RSA 2048-bit or larger (this one is ${bits}-bit)`;
  return key;
}
