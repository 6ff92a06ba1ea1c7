import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  advanceClock, createTestChannel, emulatorJson, issueTestToken, postForm, signAssertion, startTestEmulator, tokenLedger,
  type TestChannel, type TestEmulator,
} from "../helpers/emulator.ts";

const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

let emu: TestEmulator;
before(async () => {
  emu = await startTestEmulator();
});
after(() => emu.close());

function issueForm(assertion: string, extra: Record<string, string> = {}): Record<string, string> {
  return { grant_type: "client_credentials", client_assertion_type: JWT_BEARER, client_assertion: assertion, ...extra };
}

/** Issues with the emulator's own clock as "now", so assertions stay valid after the clock moved. */
async function emuNowSeconds(): Promise<number> {
  return Math.floor((await emulatorJson(emu.url, "GET", "/__emulator/clock")).body.now / 1000);
}

describe("POST /oauth2/v2.1/token", () => {
  let ch: TestChannel;
  before(async () => {
    ch = await createTestChannel(emu.url);
  });

  test("issues a token whose lifetime is token_exp, with key_id and X-Line-Request-Id", async () => {
    const r = await postForm(`${emu.url}/oauth2/v2.1/token`, issueForm(signAssertion(ch, { claims: { token_exp: 3600 } })));
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body), ["access_token", "token_type", "expires_in", "key_id"]);
    assert.equal(r.body.token_type, "Bearer");
    assert.equal(r.body.expires_in, 3600);
    assert.match(r.body.key_id, /^[A-Za-z0-9_-]{22}$/);
    assert.ok(r.body.access_token.length > 100);
    assert.match(r.headers.get("x-line-request-id") ?? "", /^[0-9a-f-]{36}$/);
    assert.match(r.headers.get("content-type") ?? "", /^application\/json/);
    const row = (await tokenLedger(emu.url, ch.channelId)).find((t) => t.access_token === r.body.access_token);
    assert.ok(row);
    assert.equal(row.kind, "v2.1");
    assert.equal(row.key_id, r.body.key_id);
    assert.equal(row.state, "valid");
    assert.equal(row.expiresAt - row.issuedAt, 3600 * 1000);
  });

  test("unknown kid gets 404 in the message shape", async () => {
    const r = await postForm(`${emu.url}/oauth2/v2.1/token`, issueForm(signAssertion(ch, { header: { kid: "00000000-0000-0000-0000-000000000000" } })));
    assert.equal(r.status, 404);
    assert.deepEqual(r.body, { message: "Cannot find channel key that satisfies the conditions" });
  });

  const cases: Array<[string, { claims?: Record<string, unknown>; header?: Record<string, unknown> }, string, string]> = [
    ["exp as a string", { claims: { exp: String(Math.floor(Date.now() / 1000) + 600) } }, "invalid_client", "Invalid exp"],
    ["exp more than 30 minutes ahead", { claims: { exp: Math.floor(Date.now() / 1000) + 31 * 60 } }, "invalid_client", "Invalid exp"],
    ["exp in the past", { claims: { exp: Math.floor(Date.now() / 1000) - 1 } }, "invalid_client", "Invalid exp"],
    ["missing exp", { claims: { exp: undefined } }, "invalid_client", "Invalid exp"],
    ["aud without the trailing slash", { claims: { aud: "https://api.line.me" } }, "invalid_client", 'Invalid aud: must be "https://api.line.me/"'],
    ["iss of another channel", { claims: { iss: "1999999999" } }, "invalid_client", "iss and clientId of key do not match"],
    ["sub differing from iss", { claims: { sub: "1999999999" } }, "invalid_client", "Invalid sub: must equal iss (the channel ID)"],
    ["token_exp over 30 days", { claims: { token_exp: 30 * 86400 + 1 } }, "invalid_request", "Invalid token_exp"],
    ["token_exp as a string", { claims: { token_exp: "3600" } }, "invalid_request", "Invalid token_exp"],
    ["missing token_exp", { claims: { token_exp: undefined } }, "invalid_request", "Invalid token_exp"],
    ["typ not JWT", { header: { typ: "jwt+at" } }, "invalid_client", "Invalid typ: must be JWT"],
    ["alg HS256", { header: { alg: "HS256" } }, "invalid_client", "Invalid alg: must be RS256"],
  ];
  for (const [name, opts, error, description] of cases) {
    test(`refuses ${name}`, async () => {
      const r = await postForm(`${emu.url}/oauth2/v2.1/token`, issueForm(signAssertion(ch, opts)));
      assert.equal(r.status, 400);
      assert.deepEqual(r.body, { error, error_description: description });
    });
  }

  test("refuses a signature made with another key", async () => {
    const good = signAssertion(ch);
    const [h, p, s] = good.split(".");
    const flipped = Buffer.from(s!, "base64url");
    flipped[10] = flipped[10]! ^ 1;
    const r = await postForm(`${emu.url}/oauth2/v2.1/token`, issueForm(`${h}.${p}.${flipped.toString("base64url")}`));
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { error: "invalid_client", error_description: "Invalid signature" });
  });

  test("refuses padded base64 segments and garbage as not JWS", async () => {
    for (const bad of [signAssertion(ch) + "=", "garbage", "a.b", "a..c", "%%%.%%%.%%%"]) {
      const r = await postForm(`${emu.url}/oauth2/v2.1/token`, issueForm(bad));
      assert.equal(r.status, 400, bad);
      assert.equal(r.body.error, "invalid_request");
    }
  });

  test("checks grant_type and client_assertion_type exactly", async () => {
    const a = signAssertion(ch);
    let r = await postForm(`${emu.url}/oauth2/v2.1/token`, issueForm(a, { grant_type: "authorization_code" }));
    assert.equal(r.status, 400);
    assert.equal(r.body.error, "unsupported_grant_type");
    r = await postForm(`${emu.url}/oauth2/v2.1/token`, issueForm(a, { client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt" }));
    assert.equal(r.status, 400);
    assert.equal(r.body.error, "invalid_request");
    r = await postForm(`${emu.url}/oauth2/v2.1/token`, { grant_type: "client_credentials", client_assertion: a });
    assert.deepEqual(r.body, { error: "invalid_request", error_description: "some parameters missed or invalid" });
  });
});

describe("cap of 30 valid v2.1 tokens", () => {
  test("the 31st is refused, nothing is evicted, expired tokens stop counting", async () => {
    const ch = await createTestChannel(emu.url);
    const now = await emuNowSeconds();
    for (let i = 0; i < 30; i++) {
      const r = await postForm(`${emu.url}/oauth2/v2.1/token`, issueForm(signAssertion(ch, { nowSeconds: now, claims: { token_exp: i === 0 ? 60 : 3600 } })));
      assert.equal(r.status, 200);
    }
    const r31 = await postForm(`${emu.url}/oauth2/v2.1/token`, issueForm(signAssertion(ch, { nowSeconds: now })));
    assert.equal(r31.status, 400);
    assert.deepEqual(r31.body, { message: "The maximum number of access tokens has already been issued" });
    let ledger = await tokenLedger(emu.url, ch.channelId);
    assert.equal(ledger.filter((t) => t.state === "valid").length, 30);
    // Only the first token (token_exp 60) expires after 60 s on the emulator clock, however long
    // issuing the 30 took: one slot frees up.
    await advanceClock(emu.url, 60.5);
    const later = await emuNowSeconds();
    const r = await postForm(`${emu.url}/oauth2/v2.1/token`, issueForm(signAssertion(ch, { nowSeconds: later })));
    assert.equal(r.status, 200);
    ledger = await tokenLedger(emu.url, ch.channelId);
    assert.equal(ledger.filter((t) => t.state === "expired").length, 1);
    assert.equal(ledger.filter((t) => t.state === "valid").length, 30);
    assert.equal(ledger.length, 31);
  });
});

describe("GET /oauth2/v2.1/tokens/kid, /verify, POST /revoke", () => {
  test("lists key IDs of valid tokens only", async () => {
    const ch = await createTestChannel(emu.url);
    const a = await issueTestToken(emu.url, ch);
    const b = await issueTestToken(emu.url, ch, { token_exp: 10 });
    const q = new URLSearchParams({ client_assertion_type: JWT_BEARER, client_assertion: signAssertion(ch, { nowSeconds: await emuNowSeconds() }) });
    let res = await fetch(`${emu.url}/oauth2/v2.1/tokens/kid?${q}`);
    assert.equal(res.status, 200);
    assert.deepEqual(new Set(((await res.json()) as { kids: string[] }).kids), new Set([a.key_id, b.key_id]));
    await advanceClock(emu.url, 11);
    const q2 = new URLSearchParams({ client_assertion_type: JWT_BEARER, client_assertion: signAssertion(ch, { nowSeconds: await emuNowSeconds() }) });
    res = await fetch(`${emu.url}/oauth2/v2.1/tokens/kid?${q2}`);
    assert.deepEqual(await res.json(), { kids: [a.key_id] });
  });

  test("verify reports seconds left; expired and not-JWS tokens are refused", async () => {
    const ch = await createTestChannel(emu.url);
    const t = await issueTestToken(emu.url, ch, { token_exp: 100 });
    let res = await fetch(`${emu.url}/oauth2/v2.1/verify?access_token=${encodeURIComponent(t.access_token)}`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { client_id: string; expires_in: number };
    assert.equal(body.client_id, ch.channelId);
    assert.ok(body.expires_in <= 100 && body.expires_in >= 98, String(body.expires_in));
    await advanceClock(emu.url, 100);
    res = await fetch(`${emu.url}/oauth2/v2.1/verify?access_token=${encodeURIComponent(t.access_token)}`);
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { error: "invalid_request", error_description: "The access token expired" });
    res = await fetch(`${emu.url}/oauth2/v2.1/verify?access_token=notajws`);
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { error: "invalid_request", error_description: "The access token not JWS" });
  });

  test("revoke checks the channel secret, answers 200 for unknown tokens and 400 for malformed ones", async () => {
    const ch = await createTestChannel(emu.url);
    const t = await issueTestToken(emu.url, ch);
    const url = `${emu.url}/oauth2/v2.1/revoke`;
    let r = await postForm(url, { client_id: ch.channelId, client_secret: "0".repeat(32), access_token: t.access_token });
    assert.equal(r.status, 400);
    assert.equal(r.body.error, "invalid_client");
    r = await postForm(url, { client_id: ch.channelId, client_secret: ch.channelSecret, access_token: t.access_token });
    assert.equal(r.status, 200);
    assert.equal(r.body, undefined);
    assert.ok(r.headers.get("x-line-request-id"));
    const row = (await tokenLedger(emu.url, ch.channelId)).find((x) => x.access_token === t.access_token);
    assert.equal(row?.state, "revoked");
    const v = await fetch(`${emu.url}/oauth2/v2.1/verify?access_token=${encodeURIComponent(t.access_token)}`);
    assert.equal(v.status, 400);
    r = await postForm(url, { client_id: ch.channelId, client_secret: ch.channelSecret, access_token: "eyJh.unknown.token" });
    assert.equal(r.status, 200);
    r = await postForm(url, { client_id: ch.channelId, client_secret: ch.channelSecret, access_token: "not a token" });
    assert.equal(r.status, 400);
    assert.equal(r.body.error, "invalid_request");
  });
});
