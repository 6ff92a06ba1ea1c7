import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../bin/kagiya.js", import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link runProcess}; `env` replaces the child's whole environment. */
export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  stdin?: string;
  /** A file as standard input (`< /dev/zero`) instead of a pipe the test writes `stdin` to. */
  stdinFile?: string;
  timeoutMs?: number;
}

/** Runs a program to its end (killed after `timeoutMs`, default 30 s) and collects its output. */
export function runProcess(command: string, args: string[], options: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const fd = options.stdinFile === undefined ? undefined : openSync(options.stdinFile, "r");
    const child = spawn(command, args, { cwd: options.cwd ?? process.cwd(), env: options.env ?? process.env, stdio: [fd ?? "pipe", "pipe", "pipe"] });
    if (fd !== undefined) closeSync(fd);
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin?.end(options.stdin ?? "");
  });
}

/**
 * Runs the real `kagiya` bin as a subprocess with this test's Node (24), the way a user does.
 * `env` is merged over a minimal environment (PATH, HOME) so the host's KAGIYA_* never leaks in.
 */
export function runCli(args: string[], options: { cwd?: string; env?: Record<string, string>; stdin?: string; stdinFile?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return runProcess(process.execPath, [BIN, ...args], {
    ...options,
    env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", ...options.env },
  });
}
