import { createHash, createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from "node:crypto";
import type { AuditStore, OnceMarkStore, SettingsStore } from "../store/types.ts";
import { HttpError, ServerConfigError } from "./errors.ts";
import { parseCookies } from "./http.ts";

/** Meta entry holding the SHA-256 (hex) of the admin token made by `kagiya admin token`. */
export const ADMIN_TOKEN_META = "admin.token.sha256";
/** Name of the dashboard session cookie. */
export const SESSION_COOKIE = "kagiya_session";

/**
 * Creates a new admin token, stores only its SHA-256 (replacing any previous one) and returns
 * the token text, to be shown once.
 *
 * @example
 * ```ts
 * const token = await createAdminToken(store); // give it to the operator; log in at /ui
 * ```
 */
export async function createAdminToken(store: Pick<SettingsStore, "setMeta"> & AuditStore, options: { now?: () => number } = {}): Promise<string> {
  const token = "kadm_" + randomBytes(32).toString("base64url");
  await store.setMeta(ADMIN_TOKEN_META, sha256(token));
  await store.appendAudit({ at: (options.now ?? Date.now)(), action: "admin.token", actor: "cli", channelId: null, keyId: null, detail: "new admin token; the previous one stops working" });
  return token;
}

/** One dashboard session: a signed cookie, so every instance on the store can check it. */
export interface AdminSession {
  /** Random 128-bit session id (base64url). */
  id: string;
  csrfToken: string;
  expiresAt: number;
  /** Which admin tokens (stored and configured) were current at login: part of what the cookie signs. */
  generation: string;
}

/** Options of {@link AdminAuth}. */
export interface AdminAuthOptions {
  /** An admin token given by configuration (KAGIYA_ADMIN_TOKEN); the stored one works too. */
  envToken?: string | undefined;
  /**
   * Key that signs session cookies and derives CSRF tokens. Instances that share it (kagiya
   * serve derives it from the master key) accept each other's sessions; default a random key,
   * so sessions live in this process only.
   */
  sessionKey?: KeyObject;
  /** Session lifetime, ms (default 12 hours). */
  sessionTtlMs?: number;
  now?: () => number;
}

/** Shortest admin token accepted from configuration: 128 bits of base64url or hex is 22-32 characters. */
export const MIN_ADMIN_TOKEN_LENGTH = 24;

const COOKIE_VALUE = /^([A-Za-z0-9_-]{22})\.([0-9a-z]{1,11})\.([A-Za-z0-9_-]{43})$/;

/**
 * Admin login and sessions for the dashboard: the admin token is compared by hash in constant
 * time; a session is `id.expiry.mac` in an HttpOnly SameSite=Strict cookie, signed with the
 * session key, with a CSRF token derived from its id that every state-changing request must echo
 * in `X-CSRF-Token`. Logging out records the id in the store (`markOnce` until the session
 * would have expired), so a copied cookie stops working on every instance; a new admin token
 * (`kagiya admin token`, or a changed KAGIYA_ADMIN_TOKEN) ends every session, the tokens' hashes
 * being part of what is signed.
 *
 * @example
 * ```ts
 * const auth = new AdminAuth(store, { envToken: process.env.KAGIYA_ADMIN_TOKEN });
 * const session = await auth.login(token); // null when the token is wrong
 * ```
 */
export class AdminAuth {
  readonly #store: Pick<SettingsStore, "getMeta"> & OnceMarkStore;
  readonly #envHash: Buffer | null;
  /** The stored admin token's hash, read at most once a second (forged cookies must not load the store). */
  #stored: { value: string | null; at: number } | null = null;
  readonly #key: KeyObject;
  readonly #ttl: number;
  readonly #now: () => number;

  constructor(store: Pick<SettingsStore, "getMeta"> & OnceMarkStore, options: AdminAuthOptions = {}) {
    const env = options.envToken;
    if (env !== undefined && env !== "" && env.length < MIN_ADMIN_TOKEN_LENGTH) {
      throw new ServerConfigError(`KAGIYA_ADMIN_TOKEN is too short (${env.length} characters): use at least ${MIN_ADMIN_TOKEN_LENGTH} random characters, e.g. from kagiya admin token`);
    }
    this.#store = store;
    this.#envHash = env ? Buffer.from(sha256(env), "hex") : null;
    this.#key = options.sessionKey ?? createSecretKey(randomBytes(32));
    this.#ttl = options.sessionTtlMs ?? 12 * 3600_000;
    this.#now = options.now ?? Date.now;
  }

  /** A new session when `token` is an admin token, else null. */
  async login(token: unknown): Promise<AdminSession | null> {
    if (typeof token !== "string" || token.length === 0 || token.length > 500) return null;
    const given = Buffer.from(sha256(token), "hex");
    let ok = this.#envHash !== null && timingSafeEqual(given, this.#envHash);
    const stored = await this.#store.getMeta(ADMIN_TOKEN_META);
    this.#stored = { value: stored, at: this.#now() };
    if (stored !== null && /^[0-9a-f]{64}$/.test(stored)) ok = timingSafeEqual(given, Buffer.from(stored, "hex")) || ok;
    if (!ok) return null;
    const id = randomBytes(16).toString("base64url");
    const expiresAt = this.#now() + this.#ttl;
    return { id, expiresAt, csrfToken: this.#mac(`csrf.${id}`), generation: this.#generation(stored) };
  }

  /** Whether any admin token is configured (env or store). */
  async configured(): Promise<boolean> {
    return this.#envHash !== null || (await this.#store.getMeta(ADMIN_TOKEN_META)) !== null;
  }

  /** The session named by the request's cookie, or null (missing, forged, expired or logged out). */
  async session(cookieHeader: string | undefined): Promise<AdminSession | null> {
    const value = parseCookies(cookieHeader).get(SESSION_COOKIE);
    const m = value === undefined ? null : COOKIE_VALUE.exec(value);
    if (m === null) return null;
    const [, id, exp, mac] = m as unknown as [string, string, string, string];
    const expiresAt = parseInt(exp, 36);
    if (!(expiresAt > this.#now())) return null;
    // Signed together with the admin tokens' hashes: a new token, stored or configured, ends every session.
    const generation = this.#generation(await this.#storedHash());
    if (!equal(mac, this.#mac(`session.${id}.${exp}.${generation}`))) return null;
    if (await this.#store.isMarked(logoutKey(id))) return null;
    return { id, expiresAt, csrfToken: this.#mac(`csrf.${id}`), generation };
  }

  /** The session, or a 401 for a missing, forged, expired or logged-out cookie. */
  async require(cookieHeader: string | undefined): Promise<AdminSession> {
    const s = await this.session(cookieHeader);
    if (s === null) throw new HttpError(401, "ERR_UNAUTHORIZED", "log in to the dashboard first (POST /ui/api/login with the admin token)");
    return s;
  }

  /** Throws 403 unless `header` equals the session's CSRF token (compared in constant time). */
  checkCsrf(session: AdminSession, header: string | string[] | undefined): void {
    if (typeof header !== "string" || !equal(header, session.csrfToken)) {
      throw new HttpError(403, "ERR_CSRF", "missing or wrong X-CSRF-Token header; reload the dashboard to get a fresh one");
    }
  }

  /** Ends the session on every instance sharing the store. */
  async logout(session: AdminSession): Promise<void> {
    await this.#store.markOnce(logoutKey(session.id), Math.max(1, session.expiresAt - this.#now()));
  }

  /** Set-Cookie value that starts `session`. */
  cookie(session: AdminSession, secure: boolean): string {
    const exp = session.expiresAt.toString(36);
    const value = `${session.id}.${exp}.${this.#mac(`session.${session.id}.${exp}.${session.generation}`)}`;
    return `${SESSION_COOKIE}=${value}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(this.#ttl / 1000)}${secure ? "; Secure" : ""}`;
  }

  /** Set-Cookie value that ends the session in the browser. */
  clearCookie(): string {
    return `${SESSION_COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0`;
  }

  async #storedHash(): Promise<string | null> {
    const now = this.#now();
    if (this.#stored === null || now - this.#stored.at >= 1000) this.#stored = { value: await this.#store.getMeta(ADMIN_TOKEN_META), at: now };
    return this.#stored.value;
  }

  /** Which admin tokens were current: the stored one's and the configured one's hashes (16 hex each). */
  #generation(storedHash: string | null): string {
    return `${storedHash === null ? "none" : storedHash.slice(0, 16)}.${this.#envHash === null ? "none" : this.#envHash.toString("hex", 0, 8)}`;
  }

  #mac(text: string): string {
    return createHmac("sha256", this.#key).update(text).digest("base64url");
  }
}

const logoutKey = (id: string): string => `admin.logout:${id}`;

/** Constant-time comparison of two ASCII strings (unequal lengths are simply unequal). */
function equal(a: string, b: string): boolean {
  const x = Buffer.from(a, "latin1");
  const y = Buffer.from(b, "latin1");
  return x.length === y.length && timingSafeEqual(x, y);
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
