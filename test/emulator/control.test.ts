import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import {
  createTestChannel, createTestChannels, emulatorJson, issueTestToken, startTestEmulator, testKeyPair, tokenLedger, tokenLedgers, type TestEmulator,
} from "../helpers/emulator.ts";

let emu: TestEmulator;
before(async () => {
  emu = await startTestEmulator();
});
after(() => emu.close());

describe("POST /__emulator/channels", () => {
  test("generates a 10-digit id, a 32-hex secret and a bot user id", async () => {
    const r = await emulatorJson(emu.url, "POST", "/__emulator/channels", {});
    assert.equal(r.status, 201);
    assert.match(r.body.channelId, /^[1-9]\d{9}$/);
    assert.match(r.body.channelSecret, /^[0-9a-f]{32}$/);
    assert.match(r.body.botUserId, /^U[0-9a-f]{32}$/);
  });

  test("keeps a given id and secret; a second channel with the same id is 409", async () => {
    const body = { channelId: "1234567890", channelSecret: "8c570fa6dd201bb328f1c1eac23a96d8" };
    const r = await emulatorJson(emu.url, "POST", "/__emulator/channels", body);
    assert.equal(r.status, 201);
    assert.equal(r.body.channelId, body.channelId);
    assert.equal(r.body.channelSecret, body.channelSecret);
    assert.equal((await emulatorJson(emu.url, "POST", "/__emulator/channels", body)).status, 409);
    assert.equal((await emulatorJson(emu.url, "POST", "/__emulator/channels", { channelId: "abc" })).status, 400);
  });

  test("an empty body is accepted as {}", async () => {
    const res = await fetch(`${emu.url}/__emulator/channels`, { method: "POST" });
    assert.equal(res.status, 201);
  });
});

describe("POST /__emulator/channels/{id}/keys", () => {
  test("registers a LINE-valid public JWK under a new UUID kid", async () => {
    const { body: c } = await emulatorJson(emu.url, "POST", "/__emulator/channels", {});
    const { publicJwk } = await testKeyPair();
    const r = await emulatorJson(emu.url, "POST", `/__emulator/channels/${c.channelId}/keys`, publicJwk);
    assert.equal(r.status, 201);
    assert.match(r.body.kid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const ops = { kty: "RSA", alg: "RS256", key_ops: ["verify"], n: publicJwk.n, e: publicJwk.e };
    assert.equal((await emulatorJson(emu.url, "POST", `/__emulator/channels/${c.channelId}/keys`, ops)).status, 201);
    const { body: got } = await emulatorJson(emu.url, "GET", `/__emulator/channels/${c.channelId}`);
    assert.equal(got.keys.length, 2);
  });

  test("refuses keys that break LINE's rules, each with its own message", async () => {
    const { body: c } = await emulatorJson(emu.url, "POST", "/__emulator/channels", {});
    const { publicJwk, privateJwk } = await testKeyPair();
    const small = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "jwk" });
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" });
    const bad: Array<[string, unknown, RegExp]> = [
      ["kid present", { ...publicJwk, kid: "mine" }, /remove kid/],
      ["1024-bit", { ...small, alg: "RS256", use: "sig" }, /2048-bit/],
      ["EC key", { ...ec, alg: "ES256", use: "sig" }, /RSA/],
      ["no alg", { kty: "RSA", use: "sig", n: publicJwk.n, e: publicJwk.e }, /alg "RS256"/],
      ["no use or key_ops", { kty: "RSA", alg: "RS256", n: publicJwk.n, e: publicJwk.e }, /use "sig" or key_ops/],
      ["use enc", { ...publicJwk, use: "enc" }, /use must be "sig"/],
      ["key_ops with sign", { kty: "RSA", alg: "RS256", key_ops: ["sign", "verify"], n: publicJwk.n, e: publicJwk.e }, /key_ops must be exactly/],
      ["private key", { ...privateJwk, alg: "RS256", use: "sig" }, /private members/],
      ["not an object", [1, 2], /1 error/],
    ];
    for (const [name, jwk, message] of bad) {
      const r = await emulatorJson(emu.url, "POST", `/__emulator/channels/${c.channelId}/keys`, jwk);
      assert.equal(r.status, 400, name);
      assert.match(r.body.message, message, name);
      // A refusal never echoes key material.
      assert.ok(!JSON.stringify(r.body).includes(publicJwk.n.slice(0, 20)), name);
    }
  });

  test("unknown channel is 404; a deleted key no longer issues", async () => {
    assert.equal((await emulatorJson(emu.url, "POST", "/__emulator/channels/1/keys", (await testKeyPair()).publicJwk)).status, 404);
    const ch = await createTestChannel(emu.url);
    await issueTestToken(emu.url, ch);
    assert.equal((await emulatorJson(emu.url, "DELETE", `/__emulator/channels/${ch.channelId}/keys/${ch.kid}`)).status, 204);
    await assert.rejects(issueTestToken(emu.url, ch), /404/);
  });
});

describe("bulk channels and ledgers", () => {
  test("POST /bulk/channels creates N channels with the key registered to each; each issues; ledgers read in one call", async () => {
    const channels = await createTestChannels(emu.url, 300);
    assert.equal(channels.length, 300);
    assert.equal(new Set(channels.map((c) => c.channelId)).size, 300);
    assert.equal(new Set(channels.map((c) => c.kid)).size, 300);
    const one = await emulatorJson(emu.url, "GET", `/__emulator/channels/${channels[123]!.channelId}`);
    assert.deepEqual(one.body.keys.map((k: { kid: string }) => k.kid), [channels[123]!.kid]);
    assert.equal(one.body.channelSecret, channels[123]!.channelSecret);
    const issued = await issueTestToken(emu.url, channels[7]!);
    await issueTestToken(emu.url, channels[299]!);
    const ledgers = await tokenLedgers(emu.url, [channels[7]!.channelId, channels[299]!.channelId, channels[0]!.channelId, "1"]);
    assert.deepEqual([...ledgers.keys()], [channels[7]!.channelId, channels[299]!.channelId, channels[0]!.channelId]);
    assert.deepEqual(ledgers.get(channels[7]!.channelId), await tokenLedger(emu.url, channels[7]!.channelId));
    assert.equal(ledgers.get(channels[7]!.channelId)![0]!.key_id, issued.key_id);
    assert.deepEqual(ledgers.get(channels[0]!.channelId), []);
  });

  test("a bad count or key creates nothing", async () => {
    const { publicJwk } = await testKeyPair();
    const before = (await emulatorJson(emu.url, "GET", "/__emulator/channels")).body.channels.length;
    for (const body of [{ count: 0, publicKey: publicJwk }, { count: 10_001, publicKey: publicJwk }, { count: 1.5, publicKey: publicJwk }, { count: 3, publicKey: { ...publicJwk, kid: "x" } }, { count: 3 }]) {
      const r = await emulatorJson(emu.url, "POST", "/__emulator/bulk/channels", body);
      assert.equal(r.status, 400, JSON.stringify(body));
    }
    assert.equal((await emulatorJson(emu.url, "GET", "/__emulator/channels")).body.channels.length, before);
    assert.equal((await emulatorJson(emu.url, "POST", "/__emulator/bulk/ledgers", { channelIds: "x" })).status, 400);
  });
});

describe("clock, ledger and reset", () => {
  test("advanceSeconds moves the clock; offsetSeconds sets it; bad bodies are 400", async () => {
    const before = (await emulatorJson(emu.url, "GET", "/__emulator/clock")).body;
    const r = await emulatorJson(emu.url, "POST", "/__emulator/clock", { advanceSeconds: 3600 });
    assert.equal(r.status, 200);
    assert.ok(r.body.now - before.now >= 3600 * 1000);
    assert.equal(r.body.offsetSeconds, before.offsetSeconds + 3600);
    const s = await emulatorJson(emu.url, "POST", "/__emulator/clock", { offsetSeconds: 0 });
    assert.equal(s.body.offsetSeconds, 0);
    for (const bad of [{}, { advanceSeconds: "1" }, { advanceSeconds: -1 }, { advanceSeconds: 1, offsetSeconds: 1 }]) {
      assert.equal((await emulatorJson(emu.url, "POST", "/__emulator/clock", bad)).status, 400, JSON.stringify(bad));
    }
  });

  test("the Date header states the emulator clock", async () => {
    const { body: clock } = await emulatorJson(emu.url, "POST", "/__emulator/clock", { offsetSeconds: 86400 });
    const res = await fetch(`${emu.url}/oauth2/v2.1/verify`);
    await res.arrayBuffer();
    const date = Date.parse(res.headers.get("date") ?? "");
    assert.ok(Math.abs(date - clock.now) < 60_000, `${res.headers.get("date")} vs ${clock.iso}`);
    await emulatorJson(emu.url, "POST", "/__emulator/clock", { offsetSeconds: 0 });
  });

  test("the ledger shows every issuance with its state; unknown channel is 404", async () => {
    const ch = await createTestChannel(emu.url);
    const t = await issueTestToken(emu.url, ch, { token_exp: 60 });
    const rows = await tokenLedger(emu.url, ch.channelId);
    assert.equal(rows.length, 1);
    assert.deepEqual(Object.keys(rows[0]!).sort(), ["access_token", "expiresAt", "issuedAt", "key_id", "kind", "revokedAt", "state"]);
    assert.equal(rows[0]!.key_id, t.key_id);
    assert.equal((await emulatorJson(emu.url, "GET", "/__emulator/channels/1/tokens")).status, 404);
  });

  test("reset empties the state", async () => {
    const ch = await createTestChannel(emu.url);
    assert.equal((await emulatorJson(emu.url, "POST", "/__emulator/reset")).status, 204);
    assert.equal((await emulatorJson(emu.url, "GET", `/__emulator/channels/${ch.channelId}`)).status, 404);
    assert.deepEqual((await emulatorJson(emu.url, "GET", "/__emulator/channels")).body, { channels: [] });
  });

  test("unknown paths are 404 and wrong methods 405, LINE-shaped", async () => {
    let r = await emulatorJson(emu.url, "GET", "/v2/bot/nothing");
    assert.equal(r.status, 404);
    assert.equal(typeof r.body.message, "string");
    r = await emulatorJson(emu.url, "GET", "/oauth2/v2.1/token");
    assert.equal(r.status, 405);
  });
});
