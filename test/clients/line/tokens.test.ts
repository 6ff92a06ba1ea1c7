import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { LineApiError, LineError, createLineClient } from "../../../src/clients/line/index.ts";
import { InvalidInputError } from "../../../src/core/errors.ts";
import { tokenLedger } from "../../helpers/emulator.ts";
import { lineFixture, rejection, type LineFixture } from "./fixture.ts";

let fx: LineFixture;
before(async () => {
  fx = await lineFixture();
});
after(() => fx.emu.close());

describe("v2.1 tokens against the emulator", () => {
  test("issue returns LINE's fields, the ledger has the token, and the key ID is listed", async () => {
    const { line, sleeps } = fx.client();
    const t = await line.issueChannelToken(fx.creds, { tokenExpSeconds: 7 * 86400 });
    assert.equal(t.token_type, "Bearer");
    assert.equal(typeof t.access_token, "string");
    assert.equal(t.expires_in, 7 * 86400);
    assert.deepEqual(Object.keys(t).sort(), ["access_token", "expires_in", "key_id", "token_type"]);
    const ledger = await tokenLedger(fx.emu.url, fx.channel.channelId);
    assert.ok(ledger.some((r) => r.key_id === t.key_id && r.state === "valid"));
    const { kids } = await line.listValidKeyIds(fx.creds);
    assert.ok(kids.includes(t.key_id));
    assert.deepEqual(sleeps, []);
  });

  test("verify reports the channel and seconds left; revoke removes the key ID", async () => {
    const { line } = fx.client();
    const t = await line.issueChannelToken(fx.creds, { tokenExpSeconds: 3600 });
    const v = await line.verifyChannelToken(t.access_token);
    assert.equal(v.client_id, fx.channel.channelId);
    assert.ok(v.expires_in > 3500 && v.expires_in <= 3600);
    await line.revokeChannelToken({ channelId: fx.channel.channelId, channelSecret: fx.channel.channelSecret, accessToken: t.access_token });
    const { kids } = await line.listValidKeyIds(fx.creds);
    assert.ok(!kids.includes(t.key_id));
    const e = await rejection(line.verifyChannelToken(t.access_token));
    assert.ok(e instanceof LineApiError);
    assert.equal(e.status, 400);
    assert.equal(e.delivery, "answered");
  });

  test("revoking twice is a 200 both times (LINE never proves the token existed); a malformed token is a 400", async () => {
    const { line, attempts } = fx.client();
    const t = await line.issueChannelToken(fx.creds);
    const input = { channelId: fx.channel.channelId, channelSecret: fx.channel.channelSecret, accessToken: t.access_token };
    await line.revokeChannelToken(input);
    await line.revokeChannelToken(input);
    attempts.length = 0;
    const e = await rejection(line.revokeChannelToken({ ...input, accessToken: "not-a-jws" }));
    assert.ok(e instanceof LineApiError);
    assert.equal(e.status, 400);
    assert.equal(e.error, "invalid_request");
    assert.equal(attempts.length, 1);
  });

  test("an unknown kid is a 404 with LINE's message, not retried", async () => {
    const { line, attempts, sleeps } = fx.client();
    const e = await rejection(line.issueChannelToken({ ...fx.creds, kid: "00000000-0000-4000-8000-000000000000" }));
    assert.ok(e instanceof LineApiError);
    assert.equal(e.code, "ERR_LINE_API");
    assert.equal(e.status, 404);
    assert.match(e.lineMessage ?? "", /Cannot find channel key/);
    assert.equal(e.ambiguous, false);
    assert.equal(e.delivery, "answered");
    assert.equal(typeof e.requestId, "string");
    assert.equal(attempts.length, 1);
    assert.deepEqual(sleeps, []);
  });

  test("a wrong channel secret on revoke is a definite refusal, not retried", async () => {
    const { line, attempts } = fx.client();
    const t = await line.issueChannelToken(fx.creds);
    attempts.length = 0;
    const e = await rejection(line.revokeChannelToken({ channelId: fx.channel.channelId, channelSecret: "0".repeat(32), accessToken: t.access_token }));
    assert.ok(e instanceof LineApiError);
    assert.ok(e.status >= 400 && e.status < 500);
    assert.equal(attempts.length, 1);
  });
});

describe("stateless and short-lived tokens", () => {
  test("stateless by assertion and by channel secret", async () => {
    const { line } = fx.client();
    const a = await line.issueStatelessToken(fx.creds);
    const b = await line.issueStatelessToken({ channelId: fx.channel.channelId, channelSecret: fx.channel.channelSecret });
    for (const t of [a, b]) {
      assert.equal(t.token_type, "Bearer");
      assert.ok(t.expires_in > 800 && t.expires_in <= 900);
      assert.deepEqual(Object.keys(t).sort(), ["access_token", "expires_in", "token_type"]);
    }
    assert.notEqual(a.access_token, b.access_token);
  });

  test("stateless with a wrong secret is 400 invalid_request, not retried", async () => {
    const { line, attempts } = fx.client();
    const e = await rejection(line.issueStatelessToken({ channelId: fx.channel.channelId, channelSecret: "f".repeat(32) }));
    assert.ok(e instanceof LineApiError);
    assert.equal(e.status, 400);
    assert.equal(e.error, "invalid_request");
    assert.equal(attempts.length, 1);
  });

  test("short-lived issue, verify and revoke", async () => {
    const { line } = fx.client();
    const creds = { channelId: fx.channel.channelId, channelSecret: fx.channel.channelSecret };
    const t = await line.issueShortLivedToken(creds);
    assert.equal(t.token_type, "Bearer");
    assert.equal(t.expires_in, 2_592_000);
    const v = await line.verifyShortLivedToken(t.access_token);
    assert.equal(v.client_id, fx.channel.channelId);
    await line.revokeShortLivedToken(t.access_token);
    const e = await rejection(line.verifyShortLivedToken(t.access_token));
    assert.ok(e instanceof LineApiError);
    assert.equal(e.status, 400);
  });

  test("short-lived with a wrong secret is 400 invalid_client", async () => {
    const { line } = fx.client();
    const e = await rejection(line.issueShortLivedToken({ channelId: fx.channel.channelId, channelSecret: "a".repeat(32) }));
    assert.ok(e instanceof LineApiError);
    assert.equal(e.error, "invalid_client");
  });
});

describe("input and options", () => {
  test("bad input is refused before any request", async () => {
    const { line, attempts } = fx.client();
    await assert.rejects(line.issueChannelToken({ ...fx.creds, channelId: "abc" }), InvalidInputError);
    await assert.rejects(line.issueChannelToken(fx.creds, { tokenExpSeconds: 2_592_001 }), InvalidInputError);
    await assert.rejects(line.verifyChannelToken("bad token\nwith newline"), InvalidInputError);
    await assert.rejects(line.revokeShortLivedToken(""), InvalidInputError);
    assert.equal(attempts.length, 0);
  });

  test("options are validated once; unknown keys and bad values refused", () => {
    assert.throws(() => createLineClient({ timeoutMs: 0 }), InvalidInputError);
    assert.throws(() => createLineClient({ retry: { maxAttempts: 0 } }), InvalidInputError);
    assert.throws(() => createLineClient({ baseUrl: "ftp://x" }), InvalidInputError);
    assert.throws(() => createLineClient({ assertionLifetimeSeconds: 1801 }), InvalidInputError);
    assert.throws(() => createLineClient({ bogus: 1 } as never), InvalidInputError);
  });

  test("base URL from KAGIYA_LINE_API_BASE, else LINE's", () => {
    assert.equal(createLineClient({ env: { KAGIYA_LINE_API_BASE: "http://127.0.0.1:9/" } }).config.baseUrl, "http://127.0.0.1:9");
    assert.equal(createLineClient({ env: {} }).config.baseUrl, "https://api.line.me");
    assert.ok(Object.isFrozen(createLineClient({ env: {} }).config));
  });

  test("every error is a LineError with a stable code", async () => {
    const { line } = fx.client();
    const e = await rejection(line.verifyChannelToken("no-such-token"));
    assert.ok(e instanceof LineError);
    assert.match(e.code, /^ERR_LINE_/);
  });
});
