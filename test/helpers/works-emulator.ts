// Test helpers for the emulator's LINE WORKS side: create an app (with the process's test key
// pair) and a bot through the control API, and sign service-account assertions by hand with
// node:crypto (independent of kagiya's JWT code), including each of seed 003's mistakes.
import { createPrivateKey, sign, type webcrypto } from "node:crypto";
import { emulatorJson, testKeyPair } from "./emulator.ts";

type JsonWebKey = webcrypto.JsonWebKey;

/** An app created through the control API, with the private key of its service account. */
export interface TestWorksApp {
  clientId: string;
  clientSecret: string;
  serviceAccount: string;
  privateJwk: JsonWebKey;
}

/** A bot created through the control API. */
export interface TestWorksBot {
  botId: string;
  botSecret: string;
}

/**
 * Creates a LINE WORKS app (defaults: rotation off, 24 h tokens) registered with the test public key.
 *
 * @example
 * ```ts
 * const app = await createWorksApp(emu.url, { rotation: true, tokenLifetime: 3600 });
 * ```
 */
export async function createWorksApp(url: string, settings: Record<string, unknown> = {}): Promise<TestWorksApp> {
  const { privateJwk, publicJwk } = await testKeyPair();
  const r = await emulatorJson(url, "POST", "/__emulator/works/apps", { publicKey: publicJwk, ...settings });
  if (r.status !== 201) throw new Error(`creating a LINE WORKS app answered ${r.status}: ${JSON.stringify(r.body)}`);
  return { clientId: r.body.clientId, clientSecret: r.body.clientSecret, serviceAccount: r.body.serviceAccount, privateJwk };
}

/** Creates a bot; returns its ID and secret. */
export async function createWorksBot(url: string, settings: Record<string, unknown> = {}): Promise<TestWorksBot> {
  const r = await emulatorJson(url, "POST", "/__emulator/works/bots", settings);
  if (r.status !== 201) throw new Error(`creating a LINE WORKS bot answered ${r.status}: ${JSON.stringify(r.body)}`);
  return { botId: r.body.botId, botSecret: r.body.botSecret };
}

/** How a hand-made assertion is encoded: right, or one of seed 003's Base64 mistakes. */
export type SegmentEncoding = "base64url" | "base64" | "base64url-padded";

function encode(bytes: Buffer, how: SegmentEncoding): string {
  if (how === "base64") return bytes.toString("base64");
  const url = bytes.toString("base64url");
  return how === "base64url-padded" ? url + "=".repeat((4 - (url.length % 4)) % 4) : url;
}

/**
 * Signs a LINE WORKS assertion with node:crypto. Defaults: iss = client ID, sub = service account,
 * iat = now, exp = iat + 3600, every segment base64url. `claims`/`header` override or (with
 * undefined) remove members; `encoding` reproduces the GAS `Utilities.base64Encode` mistake
 * (`"base64"`) or a padded base64url (`"base64url-padded"`) on all three segments.
 */
export function signWorksAssertion(
  app: Pick<TestWorksApp, "clientId" | "serviceAccount" | "privateJwk">,
  options: { claims?: Record<string, unknown>; header?: Record<string, unknown>; nowSeconds?: number; encoding?: SegmentEncoding } = {},
): string {
  const iat = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  const how = options.encoding ?? "base64url";
  const header = strip({ alg: "RS256", typ: "JWT", ...options.header });
  const claims = strip({ iss: app.clientId, sub: app.serviceAccount, iat, exp: iat + 3600, ...options.claims });
  const input = `${encode(Buffer.from(JSON.stringify(header)), how)}.${encode(Buffer.from(JSON.stringify(claims)), how)}`;
  const key = createPrivateKey({ key: app.privateJwk, format: "jwk" });
  return `${input}.${encode(sign("sha256", Buffer.from(input), key), how)}`;
}

function strip(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** POSTs a form to the emulator; returns status, headers and the parsed JSON body (or undefined). */
export async function postForm(url: string, path: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(url + path, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: new URLSearchParams(form).toString() });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === "" ? undefined : JSON.parse(text) };
}

/** The JWT bearer form for `app` with `assertion` (scope "bot" unless given). */
export function jwtBearerForm(app: Pick<TestWorksApp, "clientId" | "clientSecret">, assertion: string, scope = "bot"): Record<string, string> {
  return { assertion, grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", client_id: app.clientId, client_secret: app.clientSecret, scope };
}

/** A token row of the emulator's LINE WORKS ledger. */
export interface WorksLedgerRow {
  token: string;
  type: "access" | "refresh";
  scopes: string[];
  grant: string;
  issuedAt: number;
  expiresAt: number;
  revokedAt: number | null;
  /** Refresh tokens: times sent to the token endpoint, accepted or refused. */
  uses: number;
  state: string;
}

/** Every token LINE WORKS (the emulator) issued to an app, access and refresh, oldest first. */
export async function worksLedger(url: string, clientId: string): Promise<WorksLedgerRow[]> {
  const r = await emulatorJson(url, "GET", `/__emulator/works/apps/${encodeURIComponent(clientId)}/tokens`);
  if (r.status !== 200) throw new Error(`the LINE WORKS ledger answered ${r.status}`);
  return r.body.tokens as WorksLedgerRow[];
}

/** The access tokens LINE WORKS (the emulator) issued to an app, oldest first. */
export async function worksAccessTokens(url: string, clientId: string): Promise<WorksLedgerRow[]> {
  return (await worksLedger(url, clientId)).filter((t) => t.type === "access");
}

/** The refresh tokens LINE WORKS (the emulator) issued to an app, oldest first. */
export async function worksRefreshTokens(url: string, clientId: string): Promise<WorksLedgerRow[]> {
  return (await worksLedger(url, clientId)).filter((t) => t.type === "refresh");
}
