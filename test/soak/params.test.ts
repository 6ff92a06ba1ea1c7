// The soak refuses impossible parameters with one line on stderr and exit 2, before starting anything.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runProcess } from "../helpers/cli.ts";
import { parseSoakArgs, SoakParamError } from "./params.ts";

const SCRIPT = fileURLToPath(new URL("../../scripts/soak.ts", import.meta.url));

test("parseSoakArgs: defaults, --flag value and --flag=value, every bound", () => {
  const p = parseSoakArgs(["--seed", "42", "--days=30", "--instances", "3", "--channels", "20", "--store", "postgres"]);
  assert.deepEqual(p, { seed: 42, days: 30, instances: 3, channels: 20, store: "postgres", stepSeconds: 3600, stepMs: 1000 });
  assert.equal(parseSoakArgs([], () => 0.5).seed, 2 ** 31);
  assert.equal(parseSoakArgs(["--days", "0.5"]).days, 0.5);
  for (const bad of [
    ["--instances", "0"], ["--instances", "17"], ["--instances", "two"], ["--days", "-1"], ["--days", "0"], ["--days", "366"], ["--days", "1e3"],
    ["--channels", "3"], ["--store", "sqlite"], ["--seed", "-1"], ["--seed", String(2 ** 32)], ["--frobnicate", "1"], ["stray"], ["--seed"],
    ["--seed", "1", "--seed", "2"], ["--step-ms", "10"], ["--step-seconds", "60"], ["--days", "0.1"],
  ]) {
    assert.throws(() => parseSoakArgs(bad), SoakParamError, bad.join(" "));
  }
});

test("npm run soak with bad parameters: one line on stderr, exit 2", async () => {
  for (const [args, message] of [
    [["--instances", "0"], /--instances must be from 1 to 16, not 0/],
    [["--days", "-1"], /--days must be a number of days above 0/],
    [["--store", "mongodb"], /--store must be redis or postgres, not "mongodb"/],
  ] as const) {
    const r = await runProcess(process.execPath, [SCRIPT, ...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, message);
  }
});
