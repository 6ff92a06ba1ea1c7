// "Processes sharing the store": children running ./fixtures/get-many.ts against a token world,
// released at once so they race for the same issuance.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { TokenWorld } from "./setup.ts";

const FIXTURE = fileURLToPath(new URL("./fixtures/get-many.ts", import.meta.url));
/** SHA-256 of a token, hex: how the children report what they were handed. */
export const sha = (t: string): string => createHash("sha256").update(t).digest("hex");

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: { hashes: Record<string, number>; failures: string[] } | null;
  stderr: string;
}

/** One child; `extra` adds to (or overrides) its environment. */
export function spawnChild(w: TokenWorld, spec: string, extra: Record<string, string> = {}): { child: ChildProcess; ready: Promise<void>; done: Promise<ChildResult> } {
  const child = spawn(process.execPath, [FIXTURE], {
    env: {
      PATH: process.env["PATH"] ?? "",
      KAGIYA_TEST_STORE: spec,
      KAGIYA_MASTER_KEY: w.masterKey,
      KAGIYA_LINE_API_BASE: w.emu.url,
      KAGIYA_TEST_CHANNEL: w.channel.channelId,
      KAGIYA_TEST_CLOCK_OFFSET_MS: String(w.clock.offsetMs),
      KAGIYA_TEST_COUNT: "250",
      ...extra,
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let onReady!: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
    if (stdout.startsWith("ready\n")) onReady();
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const done = new Promise<ChildResult>((resolve) => {
    child.on("close", (code, signal) => {
      onReady();
      const line = stdout.split("\n").find((l) => l.startsWith("{"));
      resolve({ code, signal, out: line ? JSON.parse(line) : null, stderr });
    });
  });
  return { child, ready, done };
}

/** Starts `count` processes (default 4), lets them all get ready, then releases them at once. */
export async function storm(w: TokenWorld, spec: string, extra: Record<string, string> = {}, count = 4): Promise<ChildResult[]> {
  const kids = Array.from({ length: count }, () => spawnChild(w, spec, extra));
  await Promise.all(kids.map((k) => k.ready));
  for (const k of kids) k.child.stdin!.end("go\n");
  return Promise.all(kids.map((k) => k.done));
}

