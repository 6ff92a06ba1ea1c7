import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../helpers/cli.ts";

test("kagiya demo --once: token API and webhook reply work end to end on SQLite, twice in a row", async () => {
  const cwd = mkdtempSync(join(tmpdir(), "kagiya-demo-"));
  for (let run = 0; run < 2; run++) {
    const r = await runCli(["demo", "--once", "--port", "0"], { cwd, timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /token API +GET \/v1\/channels\/\d+\/token -> 200, key_id \S+/);
    assert.match(r.stdout, /webhook +POST \/webhook\/\d+ -> 200/);
    assert.match(r.stdout, /bot's reply +こんにちは!/);
  }
  assert.equal(statSync(join(cwd, "kagiya-demo.key")).mode & 0o777, 0o600);
  assert.equal(statSync(join(cwd, "kagiya-demo.db")).mode & 0o077, 0);
});

test("kagiya demo refuses an unknown option with one line and exit 2", async () => {
  const r = await runCli(["demo", "--bogus"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown option --bogus/);
});
