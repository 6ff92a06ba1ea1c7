// Driving `kagiya oauth login` as a user does: the real bin in a child process, its authorization URL
// read from stderr, the login done headlessly at oidc-provider, and the redirect delivered to the
// loopback listener (or pasted on stdin with --manual).
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import type { CliResult } from "./cli.ts";
import { openStore } from "../../src/store/open.ts";

const BIN = fileURLToPath(new URL("../../bin/kagiya.js", import.meta.url));

/** A running `kagiya oauth login`. */
export interface LoginProcess {
  /** The authorization URL it printed. */
  url: Promise<string>;
  /** Writes to its standard input and closes it (for --manual). */
  paste(text: string): void;
  done: Promise<CliResult>;
}

/**
 * Starts the bin with `args` (e.g. `["oauth", "login", "acme", "--no-browser", "--store", spec]`).
 * `env` is merged over PATH and HOME only.
 */
export function startLogin(args: string[], env: Record<string, string>): LoginProcess {
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", ...env }, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let onUrl!: (u: string) => void;
  let onNoUrl!: (e: Error) => void;
  const url = new Promise<string>((resolve, reject) => ((onUrl = resolve), (onNoUrl = reject)));
  url.catch(() => {});
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
    const line = stderr.split("\n").find((l) => /^https?:\/\//.test(l));
    if (line) onUrl(line.trim());
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const done = new Promise<CliResult>((resolve) => {
    child.on("close", (code) => {
      clearTimeout(timer);
      onNoUrl(new Error(`login exited (${code}) without printing a URL: ${stderr}`));
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
  return { url, done, paste: (text) => child.stdin.end(text) };
}

/**
 * Moves a grant's stored access token to its end, as time would (its refresh point just passed,
 * expiry half a second away), so the next CLI call refreshes without waiting on the real clock.
 */
export async function passRefreshPoint(spec: string, id: string): Promise<void> {
  const store = await openStore(spec, {});
  try {
    const cur = await store.getCurrent(id);
    assert.ok(cur.token, `no stored token for ${id}`);
    const at = Date.now();
    assert.equal(await store.commitToken(id, cur.generation, { ...cur.token, generation: cur.generation + 1, issuedAt: at - 60_000, refreshAt: at - 1000, expiresAt: at + 500, updatedAt: at }, at), true);
  } finally {
    await store.close();
  }
}
