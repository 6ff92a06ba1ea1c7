// Test helpers around the kagiya emulator: start one in-process, create a channel with a
// registered key, sign assertions (with node:crypto, independent of kagiya's JWT code), and
// drive the control API.
import { createPrivateKey, generateKeyPair, sign, type webcrypto } from "node:crypto";

type JsonWebKey = webcrypto.JsonWebKey;
import { startEmulator } from "../../src/emulator/index.ts";

/** A running test emulator. */
export interface TestEmulator {
  url: string;
  close: () => Promise<void>;
}

/** A channel created through the control API, with its key pair (one per process). */
export interface TestChannel {
  channelId: string;
  channelSecret: string;
  /** The bot's user ID (the webhook `destination`). */
  botUserId: string;
  kid: string;
  privateJwk: JsonWebKey;
  publicJwk: { kty: "RSA"; alg: "RS256"; use: "sig"; n: string; e: string };
}

/**
 * Starts an emulator on a free loopback port.
 *
 * @example
 * ```ts
 * const emu = await startTestEmulator();
 * after(() => emu.close());
 * ```
 */
export async function startTestEmulator(): Promise<TestEmulator> {
  const emu = await startEmulator();
  return { url: emu.url, close: emu.close };
}

let keyPair: Promise<{ privateJwk: JsonWebKey; publicJwk: TestChannel["publicJwk"] }> | undefined;

/** One RSA-2048 key pair per process: key generation is slow. */
export function testKeyPair(): Promise<{ privateJwk: JsonWebKey; publicJwk: TestChannel["publicJwk"] }> {
  keyPair ??= new Promise((resolve, reject) => {
    generateKeyPair("rsa", { modulusLength: 2048 }, (err, publicKey, privateKey) => {
      if (err) return reject(err);
      const pub = publicKey.export({ format: "jwk" });
      resolve({
        privateJwk: privateKey.export({ format: "jwk" }),
        publicJwk: { kty: "RSA", alg: "RS256", use: "sig", n: pub.n!, e: pub.e! },
      });
    });
  });
  return keyPair;
}

/** POST/GET/DELETE JSON against the emulator; returns status and parsed body (or undefined). */
export async function emulatorJson(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { "content-type": "application/json" };
  }
  const res = await fetch(url + path, init);
  const text = await res.text();
  return { status: res.status, body: text === "" ? undefined : JSON.parse(text) };
}

async function ok(url: string, method: string, path: string, body?: unknown, expected = [200, 201, 204]): Promise<any> {
  const r = await emulatorJson(url, method, path, body);
  if (!expected.includes(r.status)) throw new Error(`emulator ${method} ${path} answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/**
 * Creates a channel and registers the process's test public key; returns everything a client needs.
 *
 * @example
 * ```ts
 * const ch = await createTestChannel(emu.url);
 * const assertion = signAssertion(ch);
 * ```
 */
export async function createTestChannel(url: string, options: { channelId?: string; channelSecret?: string } = {}): Promise<TestChannel> {
  const { privateJwk, publicJwk } = await testKeyPair();
  const { channelId, channelSecret, botUserId } = await ok(url, "POST", "/__emulator/channels", options);
  const { kid } = await ok(url, "POST", `/__emulator/channels/${channelId}/keys`, publicJwk);
  return { channelId, channelSecret, botUserId, kid, privateJwk, publicJwk };
}

/**
 * Creates `count` channels with the process's test public key registered to each in one control
 * call (POST /__emulator/bulk/channels), for tests at scale.
 *
 * @example
 * ```ts
 * const channels = await createTestChannels(emu.url, 500);
 * ```
 */
export async function createTestChannels(url: string, count: number): Promise<TestChannel[]> {
  const { privateJwk, publicJwk } = await testKeyPair();
  const out: TestChannel[] = [];
  for (let left = count; left > 0; left -= 10_000) {
    const { channels } = await ok(url, "POST", "/__emulator/bulk/channels", { count: Math.min(left, 10_000), publicKey: publicJwk });
    for (const c of channels as Array<{ channelId: string; channelSecret: string; botUserId: string; kid: string }>) out.push({ ...c, privateJwk, publicJwk });
  }
  return out;
}

/**
 * Signs a LINE client assertion with node:crypto (not kagiya's JWT code). Defaults: iss = sub =
 * channel, aud "https://api.line.me/", exp now + 30 min on `nowSeconds` (default real time), token_exp 30 days.
 * `claims`/`header` override or (with undefined) remove members.
 */
export function signAssertion(
  channel: Pick<TestChannel, "channelId" | "kid" | "privateJwk">,
  options: { claims?: Record<string, unknown>; header?: Record<string, unknown>; nowSeconds?: number } = {},
): string {
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  const header = strip({ alg: "RS256", typ: "JWT", kid: channel.kid, ...options.header });
  const claims = strip({
    iss: channel.channelId,
    sub: channel.channelId,
    aud: "https://api.line.me/",
    exp: now + 30 * 60,
    token_exp: 30 * 24 * 60 * 60,
    ...options.claims,
  });
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
  const key = createPrivateKey({ key: channel.privateJwk, format: "jwk" });
  return `${input}.${sign("sha256", Buffer.from(input), key).toString("base64url")}`;
}

function strip(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function b64(s: string): string {
  return Buffer.from(s).toString("base64url");
}

/** POSTs an application/x-www-form-urlencoded body; returns status, headers and parsed JSON body. */
export async function postForm(url: string, params: Record<string, string>): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(url, { method: "POST", body: new URLSearchParams(params), headers: { "content-type": "application/x-www-form-urlencoded" } });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === "" ? undefined : JSON.parse(text) };
}

/**
 * Issues a v2.1 token for the channel through the real endpoint.
 *
 * @example
 * ```ts
 * const { access_token, key_id } = await issueTestToken(emu.url, ch);
 * ```
 */
export async function issueTestToken(url: string, channel: TestChannel, claims: Record<string, unknown> = {}): Promise<{ access_token: string; key_id: string; expires_in: number }> {
  const r = await postForm(`${url}/oauth2/v2.1/token`, {
    grant_type: "client_credentials",
    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    // Signed on the emulator's clock, so tokens can still be issued after a test moved it.
    client_assertion: signAssertion(channel, { claims, nowSeconds: await emulatorNowSeconds(url) }),
  });
  if (r.status !== 200) throw new Error(`token issue answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/** One row of the emulator's token ledger. */
export interface LedgerRow {
  kind: "v2.1" | "stateless" | "short-lived";
  key_id: string | null;
  access_token: string;
  issuedAt: number;
  expiresAt: number;
  revokedAt: number | null;
  state: "valid" | "revoked" | "expired";
}

/** Every token issued for the channel (GET /__emulator/channels/{id}/tokens). */
export async function tokenLedger(url: string, channelId: string): Promise<LedgerRow[]> {
  return (await ok(url, "GET", `/__emulator/channels/${channelId}/tokens`)).tokens;
}

/** The ledgers of many channels in one call (POST /__emulator/bulk/ledgers), by channel ID. */
export async function tokenLedgers(url: string, channelIds: readonly string[]): Promise<Map<string, LedgerRow[]>> {
  const out = new Map<string, LedgerRow[]>();
  for (let i = 0; i < channelIds.length; i += 10_000) {
    const chunk = channelIds.slice(i, i + 10_000);
    const ledgers = (await ok(url, "POST", "/__emulator/bulk/ledgers", { channelIds: chunk })).ledgers as Record<string, LedgerRow[]>;
    // In the order asked (a JSON object lists digit-only keys in numeric order).
    for (const id of chunk) if (Object.hasOwn(ledgers, id)) out.set(id, ledgers[id]!);
  }
  return out;
}

/** The emulator clock, in whole epoch seconds (what `nowSeconds` of {@link signAssertion} wants). */
export async function emulatorNowSeconds(url: string): Promise<number> {
  return Math.floor((await ok(url, "GET", "/__emulator/clock")).now / 1000);
}

/** Moves the emulator clock forward. */
export async function advanceClock(url: string, seconds: number): Promise<void> {
  await ok(url, "POST", "/__emulator/clock", { advanceSeconds: seconds });
}

/** Injects a fault (see docs/emulator.md); returns its id. */
export async function injectFault(url: string, fault: Record<string, unknown>): Promise<number> {
  return (await ok(url, "POST", "/__emulator/faults", fault)).id;
}

/** Clears all faults. */
export async function clearFaults(url: string): Promise<void> {
  await ok(url, "DELETE", "/__emulator/faults");
}

/** Delivers a webhook to `target` through the emulator; returns its answer (status, replyTokens, ...). */
export async function deliverTestWebhook(url: string, body: { channelId: string; url: string; events: unknown[]; redelivery?: boolean }): Promise<{ delivered: boolean; status: number | null; replyTokens: string[]; webhookEventIds: string[]; body: string; signature: string }> {
  return ok(url, "POST", "/__emulator/webhooks", body);
}

/** Messages accepted by reply and push (optionally for one channel). */
export async function sentMessages(url: string, channelId?: string): Promise<any[]> {
  return (await ok(url, "GET", `/__emulator/messages${channelId ? `?channelId=${channelId}` : ""}`)).messages;
}
