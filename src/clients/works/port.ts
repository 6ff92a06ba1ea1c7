/**
 * The three auth-server calls a token engine makes for a LINE WORKS app, as one small port shaped
 * like the LINE kind's `LineTokenApi`: one attempt per call (the engine backs off on its own
 * clock), the app's private key imported once per app object, and failures classified the way the
 * engine reasons about them ({@link classifyWorksFailure}).
 */
import { InvalidInputError } from "../../core/errors.ts";
import { importAssertionKey, type AssertionKey } from "../../core/keys/import.ts";
import type { KeyInput } from "../../core/keys/parse.ts";
import { WorksError } from "./errors.ts";
import { WorksHttp } from "./http.ts";
import { resolveWorksConfig, type WorksClientOptions } from "./options.ts";
import { issueWorksToken, refreshWorksToken, revokeWorksToken, type WorksTokenResponse } from "./tokens.ts";

/** A LINE WORKS app as the engine holds it (decrypted). `clientSecret` and `privateKey` are secrets. */
export interface WorksApp {
  clientId: string;
  clientSecret: string;
  serviceAccount: string;
  /** The service account's private key: the console's PKCS #8 PEM, or a JWK. */
  privateKey: KeyInput;
  /** Scopes, as a list or a comma- or space-separated string. */
  scope: string | readonly string[];
}

/** What LINE WORKS answered, validated. `accessToken` and `refreshToken` are secrets. */
export interface WorksIssuedToken {
  accessToken: string;
  /** Absent when a refresh ran with rotation off: the stored refresh token stays the one to use. */
  refreshToken?: string;
  /** Seconds. */
  expiresIn: number;
  scope: string[];
}

/** LINE WORKS' auth server as a token engine uses it. Errors are thrown as {@link WorksError}s. */
export interface WorksTokenApi {
  /** A new access token from a fresh assertion (JWT bearer grant). */
  issue(app: WorksApp): Promise<WorksIssuedToken>;
  /** A new access token from a refresh token; with rotation on, a new refresh token too. */
  refresh(app: WorksApp, refreshToken: string): Promise<WorksIssuedToken>;
  /** Revokes an access or refresh token. */
  revoke(app: WorksApp, token: string): Promise<void>;
}

/** Options of {@link worksTokenApi}: the client's, with one attempt per call unless `retry` says otherwise. */
export type WorksTokenApiOptions = WorksClientOptions;

function checkApp(app: WorksApp): WorksApp {
  if (app === null || typeof app !== "object") throw new InvalidInputError("app must be a LINE WORKS app object.", { field: "app" });
  return app;
}

function issued(t: WorksTokenResponse): WorksIssuedToken {
  const out: WorksIssuedToken = { accessToken: t.access_token, expiresIn: t.expires_in, scope: t.scope };
  if (t.refresh_token !== undefined) out.refreshToken = t.refresh_token;
  return out;
}

/**
 * Builds the port. Base URLs come from the options, else `KAGIYA_WORKS_AUTH_BASE` /
 * `KAGIYA_WORKS_API_BASE`, else LINE WORKS' own.
 *
 * @example
 * ```ts
 * const works = worksTokenApi({ authBaseUrl: emu.url, now: clock });
 * const t = await works.issue(app);
 * const next = await works.refresh(app, t.refreshToken!);
 * const refreshToken = next.refreshToken ?? t.refreshToken; // rotation off: keep the old one
 * ```
 */
export function worksTokenApi(options: WorksTokenApiOptions = {}): WorksTokenApi {
  const http = new WorksHttp(resolveWorksConfig({ ...options, retry: { maxAttempts: 1, ...options.retry } }));
  const keys = new WeakMap<WorksApp, Promise<AssertionKey>>();
  const keyOf = (app: WorksApp): Promise<AssertionKey> => {
    let k = keys.get(app);
    if (k === undefined) {
      k = importAssertionKey(app.privateKey);
      keys.set(app, k);
      k.catch(() => keys.delete(app));
    }
    return k;
  };
  return {
    async issue(app) {
      const privateKey = await keyOf(checkApp(app));
      return issued(await issueWorksToken(http, { clientId: app.clientId, clientSecret: app.clientSecret, serviceAccount: app.serviceAccount, privateKey, scope: app.scope }));
    },
    async refresh(app, refreshToken) {
      return issued(await refreshWorksToken(http, { clientId: checkApp(app).clientId, clientSecret: app.clientSecret }, refreshToken));
    },
    async revoke(app, token) {
      await revokeWorksToken(http, { clientId: checkApp(app).clientId, clientSecret: app.clientSecret }, token);
    },
  };
}

/**
 * How a failed call went, for the engine:
 * - `not_sent`: it never reached LINE WORKS; try again freely;
 * - `ambiguous`: it may have been acted on (timeout, reset, 5xx, unreadable 2xx); with rotation on,
 *   a refresh may have spent the refresh token: re-read the store before refreshing again;
 * - `rejected`: a definite refusal (4xx); `invalidGrant` says the assertion or refresh token was
 *   refused, `unauthorized` that an access token is dead;
 * - `rate_limited`: 429, with `retryAfterMs` when LINE WORKS said how long.
 */
export interface WorksFailure {
  code: string;
  message: string;
  kind: "not_sent" | "ambiguous" | "rejected" | "rate_limited";
  ambiguous: boolean;
  /** ms, or null when LINE WORKS did not say. */
  retryAfterMs: number | null;
  invalidGrant: boolean;
  unauthorized: boolean;
}

/**
 * Classifies anything a {@link WorksTokenApi} call threw. Errors that are not kagiya's are treated
 * as unknown and ambiguous, and their messages are not repeated (they may quote anything).
 *
 * @example
 * ```ts
 * try { await works.refresh(app, rt); }
 * catch (e) { if (classifyWorksFailure(e).invalidGrant) await adoptNewerTokenOrMint(); }
 * ```
 */
export function classifyWorksFailure(error: unknown): WorksFailure {
  if (!(error instanceof WorksError)) {
    const code = (error as { code?: unknown } | null)?.code;
    const ours = typeof code === "string" && code.startsWith("ERR_");
    return {
      code: ours ? code : "ERR_UPSTREAM",
      message: ours && typeof (error as Error).message === "string" ? (error as Error).message : "the request to LINE WORKS failed",
      kind: ours ? "rejected" : "ambiguous",
      ambiguous: !ours,
      retryAfterMs: null,
      invalidGrant: false,
      unauthorized: false,
    };
  }
  const kind: WorksFailure["kind"] = error.code === "ERR_WORKS_RATE_LIMITED" ? "rate_limited" : error.delivery === "answered" ? "rejected" : error.delivery;
  return {
    code: error.code,
    message: error.message,
    kind,
    ambiguous: error.ambiguous,
    retryAfterMs: error.retryAfterMs === undefined ? null : Math.max(0, error.retryAfterMs),
    invalidGrant: error.code === "ERR_WORKS_INVALID_GRANT",
    unauthorized: error.code === "ERR_WORKS_UNAUTHORIZED",
  };
}
