// Runs docs/quickstart-emulator.md as a newcomer would: exactly its `sh` blocks, in order, in one
// bash, with `kagiya` being this checkout's CLI (a shim on PATH), then checks what they produced.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { hashApiKey } from "../../src/server/apikeys.ts";
import { openStore } from "../../src/store/open.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DOC = join(ROOT, "docs", "quickstart-emulator.md");

/** The fenced `sh` blocks of a markdown file, in order, exactly as written. */
function shellBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

/** A port nothing listens on right now (the OS picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

test("docs/quickstart-emulator.md, run as written, ends with the bot's reply in the emulator's message log", async () => {
  const blocks = shellBlocks(readFileSync(DOC, "utf8"));
  assert.ok(blocks.length >= 10, `only ${blocks.length} sh blocks`);
  const dir = mkdtempSync(join(tmpdir(), "kagiya-quickstart-"));
  const bin = join(dir, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "kagiya"), `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, "src", "cli", "main.ts")}" "$@"\n`);
  chmodSync(join(bin, "kagiya"), 0o755);
  writeFileSync(join(dir, "quickstart.sh"), `set -eu\n${blocks.join("\n")}`);
  const [emulatorPort, servePort] = [await freePort(), await freePort()];
  // Its own process group, so the emulator and serve it starts in the background end with it.
  const child = spawn("bash", [join(dir, "quickstart.sh")], {
    cwd: dir,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: `${bin}:${process.env["PATH"] ?? ""}`, HOME: dir, KAGIYA_EMULATOR_PORT: String(emulatorPort), PORT: String(servePort) },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 90_000);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearTimeout(timer);
  try {
    process.kill(-child.pid!, "SIGTERM");
  } catch {
    // the group is gone already: step 10 stopped both servers
  }
  try {
    assert.equal(code, 0, `the walkthrough failed:\n${stdout}\n${stderr}`);
    const work = join(dir, "kagiya-quickstart");
    const emulator = `http://127.0.0.1:${emulatorPort}`;
    const serve = `http://127.0.0.1:${servePort}`;
    assert.match(stdout, new RegExp(`^LINE emulator at ${emulator}$`, "m"));
    assert.match(stdout, /^\{"channelId":"1234567890","channelSecret":"[0-9a-f]{32}","botUserId":"U[0-9a-f]{32}"\}$/m);
    assert.match(stdout, /^kid: [0-9a-f-]{36}$/m);
    assert.match(stdout, /^added channel 1234567890 \(kid [0-9a-f-]{36}\)$/m);
    assert.ok(stdout.includes(`kagiya serve: LINE API ${emulator} (KAGIYA_LINE_API_BASE); sqlite store sqlite:${join(work, "kagiya.db")}\n`), stdout);
    const token = JSON.parse(stdout.split("\n").find((l) => l.startsWith('{"access_token"'))!) as { token_type: string; key_id: string };
    assert.equal(token.token_type, "Bearer");
    const delivery = JSON.parse(stdout.split("\n").find((l) => l.startsWith('{"delivered"'))!) as { delivered: boolean; status: number };
    assert.deepEqual([delivery.delivered, delivery.status], [true, 200]);
    const log = JSON.parse(stdout.split("\n").find((l) => l.startsWith('{"messages"'))!) as { messages: Array<{ kind: string; body: { messages: Array<{ text: string }> } }> };
    assert.deepEqual(log.messages.map((m) => [m.kind, m.body.messages[0]!.text]), [["reply", "こんにちは!"]]);
    assert.ok(stdout.includes(`302 -> ${serve}/ui/\n`), stdout);
    // The admin token it shows is the one the dashboard accepts: the store holds its hash.
    const admin = new RegExp(`^dashboard: ${serve}/ui/  \\(admin token: (kadm_[A-Za-z0-9_-]{43})\\)$`, "m").exec(stdout);
    assert.ok(admin, stdout);
    const store = await openStore(`sqlite:${join(work, "kagiya.db")}`);
    try {
      assert.equal(await store.getMeta("admin.token.sha256"), hashApiKey(admin[1]!));
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
