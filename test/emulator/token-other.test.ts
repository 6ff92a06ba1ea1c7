// Stateless (v3) and short-lived (v2) channel access tokens.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  advanceClock, createTestChannel, emulatorNowSeconds, postForm, signAssertion, tokenLedger,
  type TestChannel, type TestEmulator,
} from "../helpers/emulator.ts";
import { startEmulatorWithChannel } from "../helpers/emulator-fixture.ts";

const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

let emu: TestEmulator;
let ch: TestChannel;
before(async () => ({ emu, ch } = await startEmulatorWithChannel()));
after(() => emu.close());

async function push(token: string): Promise<number> {
  const res = await fetch(`${emu.url}/v2/bot/message/push`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ to: "U" + "a".repeat(32), messages: [{ type: "text", text: "x" }] }),
  });
  await res.arrayBuffer();
  return res.status;
}

describe("POST /oauth2/v3/token (stateless)", () => {
  test("issues with a JWT assertion (no token_exp needed) for 900 s", async () => {
    const r = await postForm(`${emu.url}/oauth2/v3/token`, {
      grant_type: "client_credentials", client_assertion_type: JWT_BEARER,
      client_assertion: signAssertion(ch, { claims: { token_exp: undefined }, nowSeconds: await emulatorNowSeconds(emu.url) }),
    });
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body), ["token_type", "access_token", "expires_in"]);
    assert.equal(r.body.expires_in, 900);
    assert.equal(await push(r.body.access_token), 200);
  });

  test("issues with client id and secret; a wrong secret gets LINE's message", async () => {
    const r = await postForm(`${emu.url}/oauth2/v3/token`, { grant_type: "client_credentials", client_id: ch.channelId, client_secret: ch.channelSecret });
    assert.equal(r.status, 200);
    const bad = await postForm(`${emu.url}/oauth2/v3/token`, { grant_type: "client_credentials", client_id: ch.channelId, client_secret: "f".repeat(32) });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body, { error: "invalid_request", error_description: "Invalid 'client_credentials'." });
  });

  test("lasts 15 minutes, does not count toward the v2.1 cap and cannot be revoked", async () => {
    const r = await postForm(`${emu.url}/oauth2/v3/token`, { grant_type: "client_credentials", client_id: ch.channelId, client_secret: ch.channelSecret });
    const token = r.body.access_token as string;
    const rv = await postForm(`${emu.url}/oauth2/v2.1/revoke`, { client_id: ch.channelId, client_secret: ch.channelSecret, access_token: token });
    assert.equal(rv.status, 200);
    assert.equal(await push(token), 200);
    await advanceClock(emu.url, 900);
    assert.equal(await push(token), 401);
    const rows = await tokenLedger(emu.url, ch.channelId);
    assert.ok(rows.some((t) => t.kind === "stateless" && t.access_token === token && t.state === "expired"));
  });
});

describe("short-lived tokens (/v2/oauth)", () => {
  const issue = (c: TestChannel) => postForm(`${emu.url}/v2/oauth/accessToken`, { grant_type: "client_credentials", client_id: c.channelId, client_secret: c.channelSecret });

  test("issue, verify and revoke", async () => {
    const c = await createTestChannel(emu.url);
    const r = await issue(c);
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body), ["access_token", "expires_in", "token_type"]);
    assert.equal(r.body.expires_in, 2592000);
    const v = await postForm(`${emu.url}/v2/oauth/verify`, { access_token: r.body.access_token });
    assert.equal(v.status, 200);
    assert.equal(v.body.client_id, c.channelId);
    assert.ok(v.body.expires_in > 2591990);
    const rv = await postForm(`${emu.url}/v2/oauth/revoke`, { access_token: r.body.access_token });
    assert.equal(rv.status, 200);
    assert.equal(rv.body, undefined);
    assert.equal((await postForm(`${emu.url}/v2/oauth/verify`, { access_token: r.body.access_token })).status, 400);
    assert.equal(await push(r.body.access_token), 401);
  });

  test("a wrong secret is invalid_client; revoke is 200 for unknown and 400 for malformed tokens", async () => {
    const c = await createTestChannel(emu.url);
    const bad = await postForm(`${emu.url}/v2/oauth/accessToken`, { grant_type: "client_credentials", client_id: c.channelId, client_secret: "0".repeat(32) });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body, { error: "invalid_client", error_description: "invalid client_secret" });
    assert.equal((await postForm(`${emu.url}/v2/oauth/revoke`, { access_token: "W1TeHCgfH2LiwaUnknown=" })).status, 200);
    const m = await postForm(`${emu.url}/v2/oauth/revoke`, { access_token: "has spaces!" });
    assert.equal(m.status, 400);
    assert.equal(m.body.error, "invalid_request");
  });

  test("the 31st short-lived token revokes the oldest", async () => {
    const c = await createTestChannel(emu.url);
    const tokens: string[] = [];
    for (let i = 0; i < 31; i++) tokens.push((await issue(c)).body.access_token);
    const rows = await tokenLedger(emu.url, c.channelId);
    assert.equal(rows.filter((t) => t.state === "valid").length, 30);
    assert.equal(rows.find((t) => t.access_token === tokens[0])?.state, "revoked");
    assert.equal(rows.find((t) => t.access_token === tokens[1])?.state, "valid");
  });
});
