import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

test(".gitignore keeps what kagiya writes out of commits: keys/, master keys, stores, test output", () => {
  const paths = ["keys/private.jwk.json", "keys/public.jwk.json", "private.jwk.json", "kagiya-demo.key", "master.key", "kagiya.db", "kagiya.db-wal", "kagiya-demo.db", "kagiya-demo.db-shm", ".tmp/screenshots/dashboard-390.png", "kagiya-quickstart/keys/private.jwk.json"];
  // check-ignore prints each ignored path; a path it does not print would be committed by `git add .`.
  let out = "";
  try {
    out = execFileSync("git", ["check-ignore", "--no-index", ...paths], { cwd: ROOT, encoding: "utf8" });
  } catch (error) {
    out = (error as { stdout?: string }).stdout ?? "";
  }
  assert.deepEqual(out.trim().split("\n").sort(), [...paths].sort());
  let kept = "";
  try {
    kept = execFileSync("git", ["check-ignore", "--no-index", "src/cli/main.ts", "docs/quickstart-emulator.md", "src/core/keys/new-module.ts", "test/fixtures/vectors/keys/new-vector.json"], { cwd: ROOT, encoding: "utf8" });
  } catch (error) {
    kept = (error as { stdout?: string }).stdout ?? "";
  }
  assert.equal(kept, "", "sources are not ignored");
});
