// The TEST-ONLY clock (src/cli/test-clock.ts): `kagiya serve` and `kagiya token` follow the
// emulator's clock with KAGIYA_TEST_MODE=1 and KAGIYA_TEST_CLOCK_URL, and refuse the URL without
// test mode, so it cannot be set in production by accident.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../helpers/cli.ts";
import { advanceClock, createTestChannel, emulatorNowSeconds, type TestEmulator } from "../helpers/emulator.ts";
import { startEmulatorWithTempDir } from "../helpers/emulator-fixture.ts";
import { generateMasterKeyText } from "../../src/store/sealed.ts";
import { testClockFromEnv } from "../../src/cli/test-clock.ts";

let emu: TestEmulator;
let dir: string;
let cleanup: () => Promise<void>;
const masterKey = generateMasterKeyText();
before(async () => ({ emu, dir, cleanup } = await startEmulatorWithTempDir("kagiya-test-clock-")));
after(() => cleanup());

const env = (extra: Record<string, string> = {}): Record<string, string> => ({ KAGIYA_MASTER_KEY: masterKey, KAGIYA_LINE_API_BASE: emu.url, S: "", ...extra });

test("KAGIYA_TEST_CLOCK_URL without KAGIYA_TEST_MODE=1 is refused by serve and token: one line, exit 2", async () => {
  const clock = { KAGIYA_TEST_CLOCK_URL: `${emu.url}/__emulator/clock` };
  for (const args of [["serve", "--port", "0", "--store", `sqlite:${join(dir, "refused.db")}`], ["token", "get", "1234567890", "--store", `sqlite:${join(dir, "refused.db")}`]]) {
    for (const mode of [{}, { KAGIYA_TEST_MODE: "0" }, { KAGIYA_TEST_MODE: "true" }] as Array<Record<string, string>>) {
      const r = await runCli(args, { cwd: dir, env: env({ ...clock, ...mode }) });
      assert.equal(r.code, 2, `${args[0]} ${JSON.stringify(mode)}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, /KAGIYA_TEST_CLOCK_URL is for tests only and needs KAGIYA_TEST_MODE=1/);
    }
  }
});

test("testClockFromEnv: unset is no clock; bad URL, skew or an unreachable clock are refused; the skew is added", async () => {
  assert.equal(await testClockFromEnv({}), undefined);
  assert.equal(await testClockFromEnv({ KAGIYA_TEST_MODE: "1" }), undefined);
  const bad = [
    { KAGIYA_TEST_MODE: "1", KAGIYA_TEST_CLOCK_URL: "file:///etc/passwd" },
    { KAGIYA_TEST_MODE: "1", KAGIYA_TEST_CLOCK_URL: "not a url" },
    { KAGIYA_TEST_MODE: "1", KAGIYA_TEST_CLOCK_URL: `${emu.url}/__emulator/clock`, KAGIYA_TEST_CLOCK_SKEW_MS: "1.5" },
    { KAGIYA_TEST_MODE: "1", KAGIYA_TEST_CLOCK_URL: `${emu.url}/__emulator/channels` },
    { KAGIYA_TEST_CLOCK_SKEW_MS: "100" },
  ];
  for (const e of bad) await assert.rejects(testClockFromEnv(e), (err: Error & { code?: string }) => err.code === "ERR_INVALID_INPUT", JSON.stringify(e));
  await advanceClock(emu.url, 3600);
  const c = await testClockFromEnv({ KAGIYA_TEST_MODE: "1", KAGIYA_TEST_CLOCK_URL: `${emu.url}/__emulator/clock`, KAGIYA_TEST_CLOCK_SKEW_MS: "-2000" });
  try {
    const emuNow = (await emulatorNowSeconds(emu.url)) * 1000;
    assert.ok(Math.abs(c!.now() - (emuNow - 2000)) < 1500, `${c!.now()} vs ${emuNow - 2000}`);
  } finally {
    c!.close();
  }
});

test("kagiya token get follows the emulator's clock 20 days ahead with the test clock, and real time without", async () => {
  const cwd = mkdtempSync(join(dir, "ahead-"));
  const store = ["--store", `sqlite:${join(cwd, "k.db")}`];
  const key = join(cwd, "k.jwk.json");
  const channels = [await createTestChannel(emu.url), await createTestChannel(emu.url)];
  for (const ch of channels) {
    writeFileSync(key, JSON.stringify({ ...ch.privateJwk, alg: "RS256", use: "sig" }), { mode: 0o600 });
    assert.equal((await runCli(["channel", "add", "--id", ch.channelId, "--kid", ch.kid, "--key", key, "--secret-env", "S", ...store], { cwd, env: env({ S: ch.channelSecret }) })).code, 0);
  }
  await advanceClock(emu.url, 20 * 86400);
  const emuNow = (await emulatorNowSeconds(emu.url)) * 1000;
  const got = async (channelId: string, extra: Record<string, string>) => {
    const r = await runCli(["token", "get", channelId, "--json", ...store], { cwd, env: env(extra) });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { issuedAt: number; expiresAt: number };
  };
  const onClock = await got(channels[0]!.channelId, { KAGIYA_TEST_MODE: "1", KAGIYA_TEST_CLOCK_URL: `${emu.url}/__emulator/clock` });
  assert.ok(Math.abs(onClock.issuedAt - emuNow) < 120_000, `issued on the emulator's clock: ${new Date(onClock.issuedAt).toISOString()}`);
  const onReal = await got(channels[1]!.channelId, {});
  assert.ok(Math.abs(onReal.issuedAt - Date.now()) < 120_000, `issued on real time: ${new Date(onReal.issuedAt).toISOString()}`);
});
