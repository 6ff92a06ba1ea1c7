import { test } from "node:test";
import assert from "node:assert/strict";
import { runCli } from "../helpers/cli.ts";

test("kagiya without a command prints usage and exits 2", async () => {
  const r = await runCli([]);
  assert.equal(r.code, 2);
  assert.match(r.stdout, /usage: kagiya/);
});

test("kagiya with an unknown command says so in one line and exits 2", async () => {
  const r = await runCli(["frobnicate"]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  assert.match(r.stderr, /unknown command "frobnicate"/);
});
