import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateMasterKeyText } from "../../src/store/sealed.ts";
import { runCli } from "../helpers/cli.ts";

test("token, channel show/remove, apikey, audit and admin token in a folder without a store refuse in one line and create no database", async () => {
  const cwd = mkdtempSync(join(tmpdir(), "kagiya-nostore-"));
  const env = { KAGIYA_MASTER_KEY: generateMasterKeyText() };
  for (const args of [["token", "get", "1234567890"], ["token", "list", "1234567890"], ["channel", "show", "1234567890"], ["channel", "remove", "1234567890"],
    ["apikey", "create", "--channel", "1234567890"], ["apikey", "list"], ["apikey", "revoke", "ak_0123456789abcdef"], ["audit"], ["admin", "token"]]) {
    const r = await runCli(args, { cwd, env });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /no kagiya store at .*kagiya\.db/);
    assert.equal(existsSync(join(cwd, "kagiya.db")), false, `${args.join(" ")} left a database behind`);
  }
});
