import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../helpers/cli.ts";

test("kagiya demo --once: token API and webhook reply work end to end on SQLite, twice in a row", async () => {
  const cwd = mkdtempSync(join(tmpdir(), "kagiya-demo-"));
  for (let run = 0; run < 2; run++) {
    const show = run === 1;
    const r = await runCli(["demo", "--once", "--port", "0", ...(show ? ["--show-credentials"] : [])], { cwd, timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /token API +GET \/v1\/channels\/\d+\/token -> 200, key_id \S+/);
    assert.match(r.stdout, /webhook +POST \/webhook\/\d+ -> 200/);
    assert.match(r.stdout, /bot's reply +こんにちは!/);
    // An API key and an admin token only when asked for by name.
    assert.equal(/kgy_|kadm_/.test(r.stdout + r.stderr), show, r.stdout);
  }
  assert.equal(statSync(join(cwd, "kagiya-demo.key")).mode & 0o777, 0o600);
  assert.equal(statSync(join(cwd, "kagiya-demo.db")).mode & 0o077, 0);
});

test("kagiya demo refuses an unknown option or a malformed port with one line and exit 2", async () => {
  for (const [args, pattern] of [[["--bogus"], /unknown option --bogus/], [["--port", "0x1F90"], /--port must be a number/], [["--port="], /--port must be a number/]] as const) {
    const r = await runCli(["demo", ...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, pattern);
  }
});
