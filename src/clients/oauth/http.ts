/**
 * The few HTTP steps every OAuth call shares: URL checks (TLS except on loopback), sending a form,
 * reading a JSON object answer, and turning an error answer into a typed error without secrets.
 */
import { encodeBase64url } from "../../core/base64url.ts";
import { OAuthBadResponseError, OAuthError, OAuthResponseError } from "./errors.ts";

/**
 * Options every network call takes. `fetch` and `now` are injectable so tests point the client at
 * a real server and drive expiry with their own clock; nothing patches globals.
 */
export interface OAuthCallOptions {
  /** Defaults to the global `fetch`. */
  fetch?: typeof fetch;
  /** Epoch milliseconds; defaults to `Date.now`. */
  now?: () => number;
  signal?: AbortSignal;
}

const LOOPBACK_HOSTS = new Set(["localhost", "[::1]"]);

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}

/**
 * Parses an endpoint URL and refuses plain http off loopback (RFC 9700 §2.6) unless allowed.
 * Throws `ERR_OAUTH_CONFIG` for a malformed URL, `ERR_OAUTH_INSECURE_HTTP` for http elsewhere.
 */
export function checkUrl(value: string, field: string, allowInsecureHttp: boolean): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new OAuthError("ERR_OAUTH_CONFIG", `${field} is not an absolute URL`);
  }
  if (url.protocol === "https:") return url;
  if (url.protocol !== "http:") throw new OAuthError("ERR_OAUTH_CONFIG", `${field} must be an https URL (got ${url.protocol})`);
  if (!isLoopbackHost(url.hostname) && !allowInsecureHttp) {
    throw new OAuthError("ERR_OAUTH_INSECURE_HTTP", `${field} ${url.origin} uses http off loopback: use https, or allow insecure http explicitly`);
  }
  return url;
}

/** `POST /path`, the label errors carry (never the query string). */
export function endpointLabel(method: string, url: string): string {
  try {
    return `${method} ${new URL(url).pathname}`;
  } catch {
    return method;
  }
}

/** Replaces every occurrence of each secret with `[redacted]`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join("[redacted]");
  return out;
}

/** Sends a request and maps a network failure to `ERR_OAUTH_NETWORK` (bare cause code only). */
export async function send(url: string, init: RequestInit, options: OAuthCallOptions): Promise<Response> {
  const f = options.fetch ?? fetch;
  try {
    return await f(url, { ...init, redirect: "manual", signal: options.signal ?? null });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    const cause = (error as { cause?: { code?: unknown } }).cause?.code;
    throw new OAuthError("ERR_OAUTH_NETWORK", `${endpointLabel(init.method ?? "GET", url)} did not answer${typeof cause === "string" ? ` (${cause})` : ""}`);
  }
}

/** Form-encoded POST with the given headers (client authentication already applied). */
export function postForm(url: string, params: URLSearchParams, headers: Headers, options: OAuthCallOptions): Promise<Response> {
  headers.set("content-type", "application/x-www-form-urlencoded");
  headers.set("accept", "application/json");
  return send(url, { method: "POST", headers, body: params.toString() }, options);
}

/**
 * Reads a JSON object from a response. An error status becomes {@link OAuthResponseError} (with the
 * server's `error`, redacted); a 2xx that is not a JSON object becomes `ERR_OAUTH_BAD_RESPONSE`.
 */
export async function readJsonObject(response: Response, endpoint: string, secrets: readonly string[]): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await response.text();
  } catch {
    throw new OAuthBadResponseError(`${endpoint}: the response body could not be read`, "body");
  }
  let body: unknown;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  const obj = body !== null && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
  if (response.status < 200 || response.status >= 300) throw responseError(response.status, obj, endpoint, secrets);
  if (!obj) throw new OAuthBadResponseError(`${endpoint}: HTTP ${response.status} with a body that is not a JSON object`, "body");
  return obj;
}

/** Builds the typed error of an error answer (RFC 6749 §5.2 body when there is one). */
export function responseError(status: number, body: Record<string, unknown> | undefined, endpoint: string, secrets: readonly string[]): OAuthResponseError {
  const error = typeof body?.["error"] === "string" ? redact(body["error"], secrets).slice(0, 200) : undefined;
  const description = typeof body?.["error_description"] === "string" ? redact(body["error_description"], secrets).slice(0, 500) : undefined;
  const what = error ? `${error}${description ? `: ${description}` : ""}` : `HTTP ${status}`;
  return new OAuthResponseError(`${endpoint} refused (${status}): ${what}`, { status, error, errorDescription: description, endpoint });
}

/** Random URL-safe string of `bytes` random bytes (state, nonce, code verifier). */
export function randomToken(bytes = 32): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return encodeBase64url(b);
}

/** Constant-time string comparison (state, iss). */
export function safeEqual(a: string, b: string): boolean {
  const ea = new TextEncoder().encode(a);
  const eb = new TextEncoder().encode(b);
  let diff = ea.length ^ eb.length;
  for (let i = 0; i < ea.length; i++) diff |= ea[i]! ^ (eb[i % Math.max(eb.length, 1)] ?? 0);
  return diff === 0;
}
