import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import {
  clearFaults, createTestChannel, emulatorJson, emulatorNowSeconds, injectFault, issueTestToken, signAssertion, tokenLedger,
  type TestChannel, type TestEmulator,
} from "../helpers/emulator.ts";
import { startEmulatorWithChannel } from "../helpers/emulator-fixture.ts";

let emu: TestEmulator;
let ch: TestChannel;
let token: string;
before(async () => {
  ({ emu, ch } = await startEmulatorWithChannel());
  token = (await issueTestToken(emu.url, ch)).access_token;
});
after(() => emu.close());
beforeEach(() => clearFaults(emu.url));

const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const verifyPath = () => `/oauth2/v2.1/verify?access_token=${encodeURIComponent(token)}`;

describe("POST /__emulator/faults", () => {
  test("a status fault with count hits exactly that many requests, with Retry-After", async () => {
    await injectFault(emu.url, { method: "GET", path: "/oauth2/v2.1/verify", status: 429, retryAfter: 7, count: 2 });
    for (let i = 0; i < 2; i++) {
      const res = await fetch(emu.url + verifyPath());
      assert.equal(res.status, 429);
      assert.equal(res.headers.get("retry-after"), "7");
      assert.ok(res.headers.get("x-line-request-id"));
      assert.equal(typeof ((await res.json()) as { message: string }).message, "string");
    }
    assert.equal((await fetch(emu.url + verifyPath())).status, 200);
    assert.deepEqual((await emulatorJson(emu.url, "GET", "/__emulator/faults")).body, { faults: [] });
    const date = "Wed, 21 Oct 2026 07:28:00 GMT";
    await injectFault(emu.url, { method: "GET", path: "/oauth2/v2.1/verify", status: 503, retryAfter: date, count: 1 });
    const res = await fetch(emu.url + verifyPath());
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("retry-after"), date);
  });

  test("only the matching method and path are affected; a trailing * matches a prefix", async () => {
    await injectFault(emu.url, { method: "POST", path: "/oauth2/v2.1/verify", status: 500 });
    assert.equal((await fetch(emu.url + verifyPath())).status, 200);
    await injectFault(emu.url, { method: "*", path: "/oauth2/*", status: 503 });
    assert.equal((await fetch(emu.url + verifyPath())).status, 503);
    // The control API is never faulted.
    assert.equal((await emulatorJson(emu.url, "GET", "/__emulator/clock")).status, 200);
  });

  test("a seeded probability gives the same sequence every time", async () => {
    const run = async () => {
      await clearFaults(emu.url);
      await injectFault(emu.url, { method: "GET", path: "/oauth2/v2.1/verify", status: 500, probability: 0.5, seed: 42 });
      const seq: number[] = [];
      for (let i = 0; i < 20; i++) seq.push((await fetch(emu.url + verifyPath())).status);
      return seq;
    };
    const a = await run();
    const b = await run();
    assert.deepEqual(a, b);
    assert.ok(a.includes(500) && a.includes(200), a.join(","));
  });

  test("reset drops the connection", async () => {
    await injectFault(emu.url, { method: "GET", path: "/oauth2/v2.1/verify", reset: true, count: 1 });
    await assert.rejects(fetch(emu.url + verifyPath()));
    assert.equal((await fetch(emu.url + verifyPath())).status, 200);
  });

  test("truncate cuts the body short of its Content-Length", async () => {
    await injectFault(emu.url, { method: "GET", path: "/oauth2/v2.1/verify", truncate: true, count: 1 });
    const outcome = await new Promise<string>((resolve) => {
      const req = request(emu.url + verifyPath(), (res) => {
        let got = 0;
        const declared = Number(res.headers["content-length"]);
        res.on("data", (c: Buffer) => (got += c.length));
        res.on("error", () => resolve(`cut ${got}/${declared}`));
        res.on("aborted", () => resolve(`cut ${got}/${declared}`));
        res.on("end", () => resolve(`complete ${got}/${declared}`));
      });
      req.on("error", () => resolve("request error"));
      req.end();
    });
    assert.match(outcome, /^cut \d+\/\d+$/);
    assert.equal((await fetch(emu.url + verifyPath())).status, 200);
  });

  test("a delay alone still answers normally and counts a hit", async () => {
    await injectFault(emu.url, { method: "GET", path: "/oauth2/v2.1/verify", delayMs: 20 });
    assert.equal((await fetch(emu.url + verifyPath())).status, 200);
    const { body } = await emulatorJson(emu.url, "GET", "/__emulator/faults");
    assert.equal(body.faults[0].hits, 1);
  });

  test("a client giving up during a delay does not undo the request: the token is issued and listed (answer lost, as at LINE)", async () => {
    const fresh = await createTestChannel(emu.url);
    await injectFault(emu.url, { method: "POST", path: "/oauth2/v2.1/token", delayMs: 1000 });
    const abort = new AbortController();
    const form = {
      grant_type: "client_credentials",
      client_assertion_type: JWT_BEARER,
      client_assertion: signAssertion(fresh, { nowSeconds: await emulatorNowSeconds(emu.url) }),
    };
    const sent = fetch(`${emu.url}/oauth2/v2.1/token`, { method: "POST", body: new URLSearchParams(form), signal: abort.signal });
    // The fault has matched once the request is in; then the client gives up during the delay.
    for (let i = 0; i < 200 && ((await emulatorJson(emu.url, "GET", "/__emulator/faults")).body.faults[0]?.hits ?? 0) === 0; i++) await sleep(10);
    abort.abort();
    await assert.rejects(sent, { name: "AbortError" });

    let ledger = await tokenLedger(emu.url, fresh.channelId);
    for (let i = 0; i < 100 && ledger.length === 0; i++) {
      await sleep(50);
      ledger = await tokenLedger(emu.url, fresh.channelId);
    }
    assert.equal(ledger.length, 1, "the abandoned request was issued");
    assert.equal(ledger[0]!.state, "valid");
    const q = new URLSearchParams({ client_assertion_type: JWT_BEARER, client_assertion: signAssertion(fresh, { nowSeconds: await emulatorNowSeconds(emu.url) }) });
    const kids = (await (await fetch(`${emu.url}/oauth2/v2.1/tokens/kid?${q}`)).json()) as { kids: string[] };
    assert.deepEqual(kids, { kids: [ledger[0]!.key_id] });
  });

  test("bad fault specs are refused with a message", async () => {
    for (const spec of [{}, { method: "GET", path: "/x" }, { method: "GET", path: "x", status: 500 }, { method: "GET", path: "/x", status: 500, count: 1, probability: 0.5 }, { method: "GET", path: "/x", status: 99 }, { method: "GET", path: "/x", retryAfter: 1, delayMs: 1 }, { method: "GET", path: "/x", status: 429, retryAfter: "soon" }]) {
      const r = await emulatorJson(emu.url, "POST", "/__emulator/faults", spec);
      assert.equal(r.status, 400, JSON.stringify(spec));
      assert.equal(typeof r.body.message, "string");
    }
  });
});
