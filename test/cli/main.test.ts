import { test } from "node:test";
import assert from "node:assert/strict";
import { runCli } from "../helpers/cli.ts";

test("kagiya without a command says so in one line on stderr and exits 2; --help lists the commands", async () => {
  const r = await runCli([]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, "kagiya: missing command (run kagiya --help for the list)\n");
  const help = await runCli(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: kagiya/);
  assert.match(help.stdout, /demo /);
});

test("a path the user named that cannot be written is bad input: one line, exit 2", async () => {
  const r = await runCli(["keys", "new-master", "--out", "/nonexistent-dir/master.key"]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /nonexistent-dir/);
});

test("kagiya with an unknown command says so in one line and exits 2", async () => {
  const r = await runCli(["frobnicate"]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  assert.match(r.stderr, /unknown command "frobnicate"/);
});
