// `kagiya emulator` as a user runs it: a subprocess that prints its URL and stops on a signal.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCli } from "../helpers/cli.ts";
import { createTestChannel, issueTestToken, tokenLedger } from "../helpers/emulator.ts";

const BIN = fileURLToPath(new URL("../../bin/kagiya.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "kagiya-emu-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Starts the emulator command; resolves once it printed its URL. */
function startCli(args: string[]): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, "emulator", ...args], { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env["PATH"] ?? "" } });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => { child.kill("SIGKILL"); reject(new Error(`no URL printed: ${err}`)); }, 20_000);
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      const line = out.split("\n")[0];
      if (out.includes("\n") && line) {
        clearTimeout(timer);
        resolve({ child, url: line.trim(), exited });
      }
    });
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`exited ${code}: ${err}`)); });
  });
}

test("prints its base URL, ends cleanly on SIGTERM and SIGINT, and --state keeps channels, keys and tokens", async () => {
  const state = join(dir, "state.json");
  const first = await startCli(["--port", "0", "--state", state]);
  assert.match(first.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const ch = await createTestChannel(first.url);
  const t = await issueTestToken(first.url, ch);
  first.child.kill("SIGTERM");
  assert.equal(await first.exited, 0);
  const saved = readFileSync(state, "utf8");
  assert.ok(saved.includes(ch.channelId));

  const second = await startCli(["--port", "0", "--state", state]);
  const res = await fetch(`${second.url}/oauth2/v2.1/verify?access_token=${encodeURIComponent(t.access_token)}`);
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { client_id: string }).client_id, ch.channelId);
  // The key survived too: the same channel can issue again.
  await issueTestToken(second.url, ch);
  const rows = await tokenLedger(second.url, ch.channelId);
  assert.equal(rows.length, 2);
  second.child.kill("SIGINT");
  assert.equal(await second.exited, 0);
});

test("bad options exit 2 with one line on stderr", async () => {
  let r = await runCli(["emulator", "--port", "http"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^kagiya: --port must be a number/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  r = await runCli(["emulator", "--nope"]);
  assert.equal(r.code, 2);
  const bad = join(dir, "bad.json");
  writeFileSync(bad, "not json");
  r = await runCli(["emulator", "--port", "0", "--state", bad]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /not an emulator state file/);
});
