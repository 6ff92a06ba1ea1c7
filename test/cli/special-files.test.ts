// Paths that name something other than a regular file, and endless standard input: a FIFO
// nobody writes to would block open() forever, /dev/zero never ends and stat says 0 bytes. Each
// is refused with one line and exit 2, in bounded memory; before the fix these hung or grew
// without bound (the timeout then kills the process and the exit code is not 2).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli, type CliResult } from "../helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "kagiya-special-"));
const fifo = join(dir, "key.fifo");
execFileSync("mkfifo", ["-m", "600", fifo]);
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Long enough for a correct run on a loaded machine; a hang or an endless read is killed. */
const TIMEOUT_MS = 20_000;

function assertRefused(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 2, `exit ${r.code}: ${r.stderr.slice(0, 300)}`);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, pattern);
}

test("keys lint of a FIFO or a device is refused at once, not read", async () => {
  assertRefused(await runCli(["keys", "lint", fifo], { timeoutMs: TIMEOUT_MS }), /key file ".*key\.fifo" is a FIFO \(named pipe\), not a regular file/);
  assertRefused(await runCli(["keys", "lint", "/dev/zero"], { timeoutMs: TIMEOUT_MS }), /key file "\/dev\/zero" is a device, not a regular file/);
});

test("jwt create/inspect --key naming a FIFO or a device is refused", async () => {
  assertRefused(await runCli(["jwt", "create", "--channel-id", "1", "--kid", "k", "--key", fifo], { timeoutMs: TIMEOUT_MS }), /--key.*is a FIFO/);
  assertRefused(await runCli(["jwt", "inspect", "a.b.c", "--key", "/dev/zero"], { timeoutMs: TIMEOUT_MS }), /--key.*is a device/);
});

test("jwt inspect - reading endless standard input stops at 1 MiB", async () => {
  assertRefused(await runCli(["jwt", "inspect", "-"], { stdinFile: "/dev/zero", timeoutMs: TIMEOUT_MS }), /standard input is over 1048576 bytes/);
});

test("emulator --state naming a device or a FIFO is refused", async () => {
  assertRefused(await runCli(["emulator", "--port", "0", "--state", "/dev/zero"], { timeoutMs: TIMEOUT_MS }), /state file "\/dev\/zero" is a device/);
  assertRefused(await runCli(["emulator", "--port", "0", "--state", fifo], { timeoutMs: TIMEOUT_MS }), /state file ".*key\.fifo" is a FIFO/);
});

test("KAGIYA_MASTER_KEY_FILE naming a FIFO is refused, not read", async () => {
  const cwd = mkdtempSync(join(dir, "mk-"));
  assertRefused(await runCli(["channel", "list"], { cwd, env: { KAGIYA_MASTER_KEY_FILE: fifo }, timeoutMs: TIMEOUT_MS }), /master key file \(KAGIYA_MASTER_KEY_FILE\) ".*key\.fifo" is a FIFO/);
});
