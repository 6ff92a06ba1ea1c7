// The token API serves a LINE WORKS app at /v1/credentials/{id}/token, to a key scoped to it,
// beside LINE channels (whose /v1/channels/{id}/token keeps its digits rule).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { request, startTestBroker, testApiKey, type TestBroker } from "./helpers.ts";
import { startTestEmulator, type TestEmulator } from "../helpers/emulator.ts";
import { createWorksApp, worksAccessTokens, type TestWorksApp } from "../helpers/works-emulator.ts";
import { createApiKey } from "../../src/server/apikeys.ts";
import { InvalidInputError } from "../../src/core/errors.ts";

let emu: TestEmulator;
let t: TestBroker;
let app: TestWorksApp;
const ID = "works-billing";
before(async () => {
  emu = await startTestEmulator();
  t = await startTestBroker({ emu, server: { worksAuthBase: emu.url } });
  app = await createWorksApp(emu.url, { tokenLifetime: 3600 });
  await t.registry.add({
    channelId: ID,
    kind: "line-works",
    kid: "",
    privateKey: app.privateJwk as never,
    channelSecret: "",
    settings: { clientId: app.clientId, serviceAccount: app.serviceAccount, scope: "bot", refresh: "assertion" },
    secrets: { clientSecret: app.clientSecret },
  });
});
after(async () => {
  await t.close();
  await emu.close();
});

const bearer = (key: string): RequestInit => ({ headers: { authorization: `Bearer ${key}` } });

test("a key scoped with credentials: [id] reads the LINE WORKS app's token, issued once, and nothing else", async () => {
  const { key } = await createApiKey(t.store, { channels: [], credentials: [ID], name: "works" });
  const results = await Promise.all(Array.from({ length: 20 }, () => request(`${t.url}/v1/credentials/${ID}/token`, bearer(key))));
  const ledger = await worksAccessTokens(emu.url, app.clientId);
  assert.equal(ledger.length, 1, "one token request");
  for (const r of results) {
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get("cache-control"), "no-store");
    assert.equal(r.body.access_token, ledger[0]!.token);
    assert.equal(r.body.token_type, "Bearer");
    assert.ok(r.body.key_id.startsWith("works."));
  }
  assert.ok(results[0]!.body.expires_at <= Math.floor(ledger[0]!.expiresAt / 1000));
  // Scope: not the LINE channel; the LINE channel's key not the app.
  assert.equal((await request(`${t.url}/v1/credentials/${t.channels[0]!.channelId}/token`, bearer(key))).status, 403);
  const lineKey = await testApiKey(t.store, [t.channels[0]!.channelId]);
  assert.equal((await request(`${t.url}/v1/credentials/${ID}/token`, bearer(lineKey.key))).status, 403);
  // The LINE route keeps its digits rule; the credential route its own shape.
  const byChannel = await request(`${t.url}/v1/channels/${ID}/token`, bearer(key));
  assert.equal(byChannel.status, 400);
  assert.match(byChannel.body.message ?? byChannel.text, /decimal digits/);
  assert.equal((await request(`${t.url}/v1/credentials/.works/token`, bearer(key))).status, 400);
  assert.equal((await request(`${t.url}/v1/credentials/${ID}/token`)).status, 401);
});

test("createApiKey: a credential ID is checked for shape and existence; --channel keeps the digits rule", async () => {
  await assert.rejects(createApiKey(t.store, { channels: [], credentials: ["../x"] }), (e: InvalidInputError) => e.field === "--credential");
  await assert.rejects(createApiKey(t.store, { channels: [ID] }), (e: InvalidInputError) => e.field === "--channel" && /not a channel ID/.test(e.message));
  await assert.rejects(createApiKey(t.store, { channels: [], credentials: ["works-nobody"] }), (e: InvalidInputError) => e.code === "ERR_CHANNEL_NOT_FOUND");
  await assert.rejects(createApiKey(t.store, { channels: [] }), InvalidInputError);
});
