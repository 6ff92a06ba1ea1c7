// Malformed input of every kind gets a LINE-shaped 4xx and never takes the emulator down.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { issueTestToken, type TestChannel, type TestEmulator } from "../helpers/emulator.ts";
import { startEmulatorWithChannel } from "../helpers/emulator-fixture.ts";

let emu: TestEmulator;
let ch: TestChannel;
before(async () => ({ emu, ch } = await startEmulatorWithChannel()));
after(() => emu.close());

const FORM = "application/x-www-form-urlencoded";
const JWT_BEARER = encodeURIComponent("urn:ietf:params:oauth:client-assertion-type:jwt-bearer");

interface Bad {
  name: string;
  method: string;
  path: string;
  contentType?: string;
  body?: string | Uint8Array;
  auth?: boolean;
}

function cases(): Bad[] {
  const tokenForm = (assertion: string) => `grant_type=client_credentials&client_assertion_type=${JWT_BEARER}&client_assertion=${assertion}`;
  return [
    { name: "JSON where a form is expected", method: "POST", path: "/oauth2/v2.1/token", contentType: "application/json", body: '{"grant_type":"client_credentials"}' },
    { name: "no content type", method: "POST", path: "/oauth2/v2.1/token", body: tokenForm("a.b.c") },
    { name: "text/plain form", method: "POST", path: "/v2/oauth/accessToken", contentType: "text/plain", body: "grant_type=client_credentials" },
    { name: "bad percent escape", method: "POST", path: "/oauth2/v2.1/token", contentType: FORM, body: "grant_type=client%ZZcredentials" },
    { name: "lone percent", method: "POST", path: "/oauth2/v2.1/revoke", contentType: FORM, body: "access_token=%" },
    { name: "repeated parameter", method: "POST", path: "/oauth2/v2.1/token", contentType: FORM, body: tokenForm("a.b.c") + "&grant_type=client_credentials" },
    { name: "missing parameters", method: "POST", path: "/oauth2/v2.1/token", contentType: FORM, body: "grant_type=client_credentials" },
    { name: "empty body", method: "POST", path: "/oauth2/v3/token", contentType: FORM, body: "" },
    { name: "invalid UTF-8 raw bytes", method: "POST", path: "/oauth2/v2.1/token", contentType: FORM, body: new Uint8Array([0x67, 0x3d, 0xff, 0xfe, 0xc3]) },
    { name: "invalid UTF-8 percent-encoded", method: "POST", path: "/v2/oauth/verify", contentType: FORM, body: "access_token=%FF%FE" },
    { name: "garbage JWT", method: "POST", path: "/oauth2/v2.1/token", contentType: FORM, body: tokenForm("garbage") },
    { name: "JWT of garbage segments", method: "POST", path: "/oauth2/v2.1/token", contentType: FORM, body: tokenForm("eyJ.eyJ.AAAA") },
    { name: "JWT with a JSON array header", method: "POST", path: "/oauth2/v2.1/token", contentType: FORM, body: tokenForm(`${Buffer.from("[1]").toString("base64url")}.e30.AAAA`) },
    { name: "garbage JWT in kid listing", method: "GET", path: `/oauth2/v2.1/tokens/kid?client_assertion_type=${JWT_BEARER}&client_assertion=x.y.z` },
    { name: "malformed query", method: "GET", path: "/oauth2/v2.1/verify?access_token=%E0%A4%A" },
    { name: "verify without a token", method: "GET", path: "/oauth2/v2.1/verify" },
    { name: "body over 2 MB", method: "POST", path: "/oauth2/v2.1/token", contentType: FORM, body: "a=" + "b".repeat(2 * 1024 * 1024 + 10) },
    { name: "JWK of the wrong type", method: "POST", path: `/__emulator/channels/${ch.channelId}/keys`, contentType: "application/json", body: '{"kty":"oct","k":"c2VjcmV0"}' },
    { name: "JWK that is a string", method: "POST", path: `/__emulator/channels/${ch.channelId}/keys`, contentType: "application/json", body: '"RSA"' },
    { name: "JSON garbage to push", method: "POST", path: "/v2/bot/message/push", contentType: "application/json", body: "{]", auth: true },
    { name: "form to push", method: "POST", path: "/v2/bot/message/push", contentType: FORM, body: "to=x", auth: true },
    { name: "invalid UTF-8 JSON", method: "POST", path: "/v2/bot/message/reply", contentType: "application/json", body: new Uint8Array([0x7b, 0xff, 0x7d]), auth: true },
    { name: "messages not an array", method: "POST", path: "/v2/bot/message/push", contentType: "application/json", body: '{"to":"U","messages":"hi"}', auth: true },
    { name: "null message", method: "POST", path: "/v2/bot/message/reply", contentType: "application/json", body: '{"replyToken":"x","messages":[null]}', auth: true },
    { name: "bad bearer", method: "POST", path: "/v2/bot/message/push", contentType: "application/json", body: "{}" },
    { name: "webhook with events not an array", method: "POST", path: "/__emulator/webhooks", contentType: "application/json", body: `{"channelId":"${ch.channelId}","url":"http://127.0.0.1:1","events":{}}` },
    { name: "clock with a string", method: "POST", path: "/__emulator/clock", contentType: "application/json", body: '{"advanceSeconds":"soon"}' },
  ];
}

/** Sends bytes that are not HTTP at all; resolves with whatever came back. */
function rawGarbage(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const s = connect(Number(port), hostname, () => s.end("\x00\x01GARBAGE / NOT-HTTP\r\n\r\n"));
    let got = "";
    s.on("data", (d) => (got += d.toString("latin1")));
    s.on("close", () => resolve(got));
    s.on("error", () => resolve(got));
  });
}

test("a burst of malformed requests gets LINE-shaped 4xx answers, then a normal issuance works", async () => {
  const token = (await issueTestToken(emu.url, ch)).access_token;
  const all = cases();
  const burst = Array.from({ length: 4 }, () => all).flat();
  const results = await Promise.all(burst.map(async (c) => {
    const headers: Record<string, string> = {};
    if (c.contentType) headers["content-type"] = c.contentType;
    if (c.auth) headers["authorization"] = `Bearer ${token}`;
    const res = await fetch(emu.url + c.path, { method: c.method, headers, ...(c.body !== undefined ? { body: c.body } : {}) });
    const text = await res.text();
    return { c, status: res.status, requestId: res.headers.get("x-line-request-id"), text };
  }));
  const garbage = await Promise.all([rawGarbage(emu.url), rawGarbage(emu.url)]);
  for (const r of results) {
    assert.ok(r.status >= 400 && r.status < 500, `${r.c.name}: ${r.status} ${r.text}`);
    assert.ok(r.requestId, `${r.c.name}: no X-Line-Request-Id`);
    const body = JSON.parse(r.text) as Record<string, unknown>;
    const lineShaped = typeof body["message"] === "string" || (typeof body["error"] === "string" && typeof body["error_description"] === "string");
    assert.ok(lineShaped, `${r.c.name}: ${r.text}`);
  }
  for (const g of garbage) assert.match(g, /^HTTP\/1\.1 400/);
  // The emulator is still serving.
  const issued = await issueTestToken(emu.url, ch);
  assert.ok(issued.access_token.length > 100);
});
