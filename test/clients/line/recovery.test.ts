import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { LineApiError, LineBadResponseError, LineIssueAmbiguousError, LineNetworkError } from "../../../src/clients/line/index.ts";
import { clearFaults, injectFault, tokenLedger } from "../../helpers/emulator.ts";
import { lineFixture, rejection, type LineFixture } from "./fixture.ts";

const ISSUE = "/oauth2/v2.1/token";
const KID = "/oauth2/v2.1/tokens/kid";
let fx: LineFixture;
before(async () => {
  fx = await lineFixture();
});
after(() => fx.emu.close());
afterEach(() => clearFaults(fx.emu.url));

async function v21Ledger(channelId: string): Promise<string[]> {
  return (await tokenLedger(fx.emu.url, channelId)).filter((r) => r.kind === "v2.1").map((r) => r.key_id!);
}

describe("issue is not blindly retried", () => {
  test("a 503 is thrown at once, flagged ambiguous", async () => {
    await injectFault(fx.emu.url, { method: "POST", path: ISSUE, status: 503, count: 1 });
    const { line, sleeps, attempts } = fx.client();
    const e = await rejection(line.issueChannelToken(fx.creds));
    assert.ok(e instanceof LineApiError);
    assert.equal(e.code, "ERR_LINE_SERVER");
    assert.equal(e.ambiguous, true);
    assert.equal(attempts.length, 1);
    assert.deepEqual(sleeps, []);
  });

  test("a reset after sending is thrown at once, flagged ambiguous", async () => {
    await injectFault(fx.emu.url, { method: "POST", path: ISSUE, reset: true, count: 1 });
    const { line, attempts } = fx.client();
    const e = await rejection(line.issueChannelToken(fx.creds));
    assert.ok(e instanceof LineNetworkError);
    assert.equal(e.delivery, "ambiguous");
    assert.equal(attempts.length, 1);
  });

  test("a truncated 200 is ERR_LINE_BAD_RESPONSE, ambiguous, and LINE did issue a token", async () => {
    const { channel, creds } = await fx.newChannel();
    await injectFault(fx.emu.url, { method: "POST", path: ISSUE, truncate: true, count: 1 });
    const { line, attempts } = fx.client();
    const e = await rejection(line.issueChannelToken(creds));
    assert.ok(e instanceof LineBadResponseError);
    assert.equal(e.field, "body");
    assert.equal(e.ambiguous, true);
    assert.equal(attempts.length, 1);
    assert.equal((await v21Ledger(channel.channelId)).length, 1);
  });

  test("429 is a definite refusal: retried after Retry-After", async () => {
    await injectFault(fx.emu.url, { method: "POST", path: ISSUE, status: 429, retryAfter: 2, count: 1 });
    const { line, sleeps } = fx.client();
    const t = await line.issueChannelToken(fx.creds);
    assert.equal(typeof t.key_id, "string");
    assert.deepEqual(sleeps, [2000]);
  });
});

describe("issueWithRecovery: key-ID check before any new attempt", () => {
  test("a truncated answer: the lost token is reported as an orphan before the second attempt", async () => {
    const { channel, creds } = await fx.newChannel();
    await injectFault(fx.emu.url, { method: "POST", path: ISSUE, truncate: true, count: 1 });
    const { line, attempts } = fx.client();
    const reported: Array<{ keyIds: string[]; ledger: string[] }> = [];
    const r = await line.issueWithRecovery(creds, {
      knownKeyIds: [],
      onOrphans: async (keyIds) => void reported.push({ keyIds, ledger: await v21Ledger(channel.channelId) }),
    });
    const ledger = await v21Ledger(channel.channelId);
    assert.equal(ledger.length, 2);
    const [lost, kept] = ledger;
    assert.equal(r.token.key_id, kept);
    assert.deepEqual(r.orphanKeyIds, [lost]);
    assert.equal(r.issueAttempts, 2);
    // onOrphans ran once, with the orphan, while LINE still held only that one token.
    assert.deepEqual(reported, [{ keyIds: [lost], ledger: [lost] }]);
    assert.deepEqual(attempts.map((a) => a.endpoint), ["POST /oauth2/v2.1/token", "GET /oauth2/v2.1/tokens/kid", "POST /oauth2/v2.1/token"]);
  });

  test("a 503: no orphan, the check runs, then one backoff and a new attempt", async () => {
    const { channel, creds } = await fx.newChannel();
    await injectFault(fx.emu.url, { method: "POST", path: ISSUE, status: 503, count: 1 });
    const { line, sleeps, attempts } = fx.client();
    const r = await line.issueWithRecovery(creds, { knownKeyIds: [] });
    assert.deepEqual(r.orphanKeyIds, []);
    assert.deepEqual(sleeps, [125]);
    assert.deepEqual(attempts.map((a) => `${a.endpoint} ${a.status}`), ["POST /oauth2/v2.1/token 503", "GET /oauth2/v2.1/tokens/kid 200", "POST /oauth2/v2.1/token 200"]);
    assert.deepEqual(await v21Ledger(channel.channelId), [r.token.key_id]);
  });

  test("without knownKeyIds, LINE's list before the first attempt is the known set", async () => {
    const { channel, creds } = await fx.newChannel();
    const { line: other } = fx.client();
    const existing = await other.issueChannelToken(creds);
    await injectFault(fx.emu.url, { method: "POST", path: ISSUE, truncate: true, count: 1 });
    const { line, attempts } = fx.client();
    const r = await line.issueWithRecovery(creds);
    assert.equal(attempts[0]!.endpoint, "GET /oauth2/v2.1/tokens/kid");
    const ledger = await v21Ledger(channel.channelId);
    assert.equal(ledger.length, 3);
    assert.deepEqual(r.orphanKeyIds, [ledger[1]]);
    assert.ok(!r.orphanKeyIds.includes(existing.key_id));
  });

  test("onOrphans may stop the recovery (budget): no further issue request", async () => {
    const { channel, creds } = await fx.newChannel();
    await injectFault(fx.emu.url, { method: "POST", path: ISSUE, truncate: true, count: 1 });
    const { line } = fx.client();
    const stop = new Error("budget exhausted");
    const e = await rejection(line.issueWithRecovery(creds, { knownKeyIds: [], onOrphans: () => { throw stop; } }));
    assert.equal(e, stop);
    assert.equal((await v21Ledger(channel.channelId)).length, 1);
  });

  test("out of attempts: LineIssueAmbiguousError with what the check found", async () => {
    const { creds } = await fx.newChannel();
    await injectFault(fx.emu.url, { method: "POST", path: ISSUE, status: 500 });
    const { line, attempts } = fx.client();
    const e = await rejection(line.issueWithRecovery(creds, { knownKeyIds: [], maxIssueAttempts: 2 }));
    assert.ok(e instanceof LineIssueAmbiguousError);
    assert.equal(e.code, "ERR_LINE_ISSUE_AMBIGUOUS");
    assert.equal(e.lastErrorCode, "ERR_LINE_SERVER");
    assert.equal(e.keyIdsChecked, true);
    assert.deepEqual(e.orphanKeyIds, []);
    assert.equal(attempts.filter((a) => a.endpoint === "POST /oauth2/v2.1/token").length, 2);
    assert.equal(attempts.filter((a) => a.endpoint === "GET /oauth2/v2.1/tokens/kid").length, 2);
  });

  test("when the key-ID check itself fails, nothing more is issued and the error says so", async () => {
    const { channel, creds } = await fx.newChannel();
    await injectFault(fx.emu.url, { method: "POST", path: ISSUE, truncate: true, count: 1 });
    await injectFault(fx.emu.url, { method: "GET", path: KID, status: 400 });
    const { line } = fx.client();
    const e = await rejection(line.issueWithRecovery(creds, { knownKeyIds: [] }));
    assert.ok(e instanceof LineIssueAmbiguousError);
    assert.equal(e.keyIdsChecked, false);
    assert.equal(e.lastErrorCode, "ERR_LINE_BAD_RESPONSE");
    assert.equal((await v21Ledger(channel.channelId)).length, 1);
  });

  test("a definite refusal is passed through without a check", async () => {
    await injectFault(fx.emu.url, { method: "POST", path: ISSUE, status: 400, count: 1 });
    const { line, attempts } = fx.client();
    const e = await rejection(line.issueWithRecovery(fx.creds, { knownKeyIds: [] }));
    assert.ok(e instanceof LineApiError);
    assert.equal(e.status, 400);
    assert.equal(attempts.length, 1);
  });

  test("the 30-token cap is ERR_LINE_TOKEN_LIMIT", async () => {
    const { creds } = await fx.newChannel();
    const { line } = fx.client();
    for (let i = 0; i < 30; i++) await line.issueChannelToken(creds);
    const e = await rejection(line.issueWithRecovery(creds, { knownKeyIds: [] }));
    assert.ok(e instanceof LineApiError);
    assert.equal(e.code, "ERR_LINE_TOKEN_LIMIT");
    assert.equal(e.delivery, "answered");
  });
});
