import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { ServerClock } from "../../../src/clients/line/index.ts";
import { emulatorJson } from "../../helpers/emulator.ts";
import { lineFixture, type LineFixture } from "./fixture.ts";

let fx: LineFixture;

async function setEmulatorClock(offsetSeconds: number): Promise<void> {
  const r = await emulatorJson(fx.emu.url, "POST", "/__emulator/clock", { offsetSeconds });
  assert.equal(r.status, 200);
}

// The emulator's Date header follows its clock, as LINE's follows LINE's.
before(async () => {
  fx = await lineFixture();
});
after(async () => {
  await setEmulatorClock(0);
  await fx.emu.close();
});
afterEach(() => setEmulatorClock(0));

describe("clock skew: assertions are built in LINE's time, measured from Date headers", () => {
  test("LINE one hour ahead: the first assertion (local clock) is refused as expired, re-sent once corrected, then right first time", async () => {
    await setEmulatorClock(3600);
    const { line, attempts } = fx.client();
    const { kids } = await line.listValidKeyIds(fx.creds);
    assert.ok(Array.isArray(kids));
    assert.deepEqual(attempts.map((a) => a.status), [400, 200]);
    assert.ok(Math.abs(line.clock.offsetMs - 3_600_000) <= 1_500, `offset ${line.clock.offsetMs}`);
    attempts.length = 0;
    const t = await line.issueChannelToken(fx.creds);
    assert.equal(typeof t.key_id, "string");
    assert.deepEqual(attempts.map((a) => a.status), [200]);
  });

  test("v2.1 issue with LINE two hours ahead", async () => {
    await setEmulatorClock(7200);
    const { line, attempts } = fx.client();
    const t = await line.issueChannelToken(fx.creds);
    assert.equal(typeof t.key_id, "string");
    assert.deepEqual(attempts.map((a) => a.status), [400, 200]);
    assert.ok(Math.abs(line.clock.offsetMs - 7_200_000) <= 1_500, `offset ${line.clock.offsetMs}`);
  });

  test("LINE one hour behind: exp would be too far ahead; corrected the same way", async () => {
    await setEmulatorClock(-3600);
    const { line, attempts } = fx.client();
    await line.issueChannelToken(fx.creds);
    assert.deepEqual(attempts.map((a) => a.status), [400, 200]);
    assert.ok(Math.abs(line.clock.offsetMs + 3_600_000) <= 1_500);
  });

  test("a local clock two hours slow (injected) against LINE on time", async () => {
    const { line, attempts } = fx.client({ now: () => Date.now() - 7_200_000 });
    await line.issueStatelessToken(fx.creds);
    assert.deepEqual(attempts.map((a) => a.status), [400, 200]);
    attempts.length = 0;
    await line.listValidKeyIds(fx.creds);
    assert.deepEqual(attempts.map((a) => a.status), [200]);
  });

  test("any response teaches the clock: a warm client's first assertion is already right", async () => {
    await setEmulatorClock(1800);
    const { line, attempts } = fx.client();
    await line.verifyShortLivedToken("x".repeat(20)).catch(() => undefined); // a 400, with a Date header
    attempts.length = 0;
    await line.issueChannelToken(fx.creds);
    assert.deepEqual(attempts.map((a) => a.status), [200]);
  });

  test("a definite refusal without a clock change is not re-sent", async () => {
    const { line, attempts } = fx.client();
    await line.listValidKeyIds(fx.creds); // learn the offset (about 0)
    attempts.length = 0;
    await line.issueChannelToken({ ...fx.creds, kid: "00000000-0000-4000-8000-000000000000" }).catch(() => undefined);
    assert.deepEqual(attempts.map((a) => a.status), [404]);
  });

  test("ServerClock reads Date with one-second resolution, midpoint of the exchange", () => {
    let local = Date.parse("2026-11-22T04:00:00.000Z");
    const clock = new ServerClock(() => local);
    assert.equal(clock.observe("Sun, 22 Nov 2026 05:00:00 GMT", local - 200, local), 3_600_000 > 0);
    assert.equal(clock.offsetMs, 3_600_000 + 500 + 100);
    local += 1000;
    assert.equal(clock.serverNow(), local + 3_600_600);
    assert.equal(clock.observe("garbage", 0, 0), false);
    assert.equal(clock.observe(null, 0, 0), false);
    assert.equal(clock.samples, 1);
  });
});
