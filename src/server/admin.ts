import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Store } from "../store/types.ts";
import { HttpError } from "./errors.ts";
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
export async function createAdminToken(store: Store, options: { now?: () => number } = {}): Promise<string> {
  const token = "kadm_" + randomBytes(32).toString("base64url");
  await store.setMeta(ADMIN_TOKEN_META, sha256(token));
  await store.appendAudit({ at: (options.now ?? Date.now)(), action: "admin.token", actor: "cli", channelId: null, keyId: null, detail: "new admin token; the previous one stops working" });
  return token;
}

/** One dashboard session (random id held in this instance's memory). */
export interface AdminSession {
  id: string;
  csrfToken: string;
  expiresAt: number;
}

/** Options of {@link AdminAuth}. */
export interface AdminAuthOptions {
  /** An admin token given by configuration (KAGIYA_ADMIN_TOKEN); the stored one works too. */
  envToken?: string | undefined;
  /** Session lifetime, ms (default 12 hours). */
  sessionTtlMs?: number;
  now?: () => number;
}

/**
 * Admin login and sessions for the dashboard: the admin token is compared by hash in constant
 * time; a session is a random 256-bit id in an HttpOnly SameSite=Strict cookie, with its own
 * CSRF token that every state-changing request must echo in `X-CSRF-Token`.
 *
 * @example
 * ```ts
 * const auth = new AdminAuth(store, { envToken: process.env.KAGIYA_ADMIN_TOKEN });
 * const session = await auth.login(token); // null when the token is wrong
 * ```
 */
export class AdminAuth {
  readonly #store: Store;
  readonly #envHash: Buffer | null;
  readonly #ttl: number;
  readonly #now: () => number;
  readonly #sessions = new Map<string, AdminSession>();

  constructor(store: Store, options: AdminAuthOptions = {}) {
    this.#store = store;
    this.#envHash = options.envToken ? Buffer.from(sha256(options.envToken), "hex") : null;
    this.#ttl = options.sessionTtlMs ?? 12 * 3600_000;
    this.#now = options.now ?? Date.now;
  }

  /** A new session when `token` is an admin token, else null. */
  async login(token: unknown): Promise<AdminSession | null> {
    if (typeof token !== "string" || token.length === 0 || token.length > 500) return null;
    const given = Buffer.from(sha256(token), "hex");
    let ok = this.#envHash !== null && timingSafeEqual(given, this.#envHash);
    const stored = await this.#store.getMeta(ADMIN_TOKEN_META);
    if (stored !== null && /^[0-9a-f]{64}$/.test(stored)) ok = timingSafeEqual(given, Buffer.from(stored, "hex")) || ok;
    if (!ok) return null;
    this.#sweep();
    const session: AdminSession = {
      id: randomBytes(32).toString("base64url"),
      csrfToken: randomBytes(32).toString("base64url"),
      expiresAt: this.#now() + this.#ttl,
    };
    this.#sessions.set(session.id, session);
    return session;
  }

  /** Whether any admin token is configured (env or store). */
  async configured(): Promise<boolean> {
    return this.#envHash !== null || (await this.#store.getMeta(ADMIN_TOKEN_META)) !== null;
  }

  /** The session named by the request's cookie, or null (missing, forged or expired). */
  session(cookieHeader: string | undefined): AdminSession | null {
    const id = parseCookies(cookieHeader).get(SESSION_COOKIE);
    if (id === undefined || id.length !== 43) return null;
    const s = this.#sessions.get(id);
    if (s === undefined) return null;
    if (s.expiresAt <= this.#now()) {
      this.#sessions.delete(id);
      return null;
    }
    return s;
  }

  /** The session, or a 401 for a missing, forged or expired cookie. */
  require(cookieHeader: string | undefined): AdminSession {
    const s = this.session(cookieHeader);
    if (s === null) throw new HttpError(401, "ERR_UNAUTHORIZED", "log in to the dashboard first (POST /ui/api/login with the admin token)");
    return s;
  }

  /** Throws 403 unless `header` equals the session's CSRF token (compared in constant time). */
  checkCsrf(session: AdminSession, header: string | string[] | undefined): void {
    const given = typeof header === "string" ? Buffer.from(header) : Buffer.alloc(0);
    const want = Buffer.from(session.csrfToken);
    if (given.length !== want.length || !timingSafeEqual(given, want)) {
      throw new HttpError(403, "ERR_CSRF", "missing or wrong X-CSRF-Token header; reload the dashboard to get a fresh one");
    }
  }

  logout(session: AdminSession): void {
    this.#sessions.delete(session.id);
  }

  /** Set-Cookie value that starts `session`. */
  cookie(session: AdminSession, secure: boolean): string {
    return `${SESSION_COOKIE}=${session.id}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(this.#ttl / 1000)}${secure ? "; Secure" : ""}`;
  }

  /** Set-Cookie value that ends the session in the browser. */
  clearCookie(): string {
    return `${SESSION_COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0`;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [id, s] of this.#sessions) if (s.expiresAt <= now) this.#sessions.delete(id);
  }
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
