// Emulator throughput: GET /oauth2/v2.1/verify at 50 keep-alive connections on loopback.
// Target: >= 5,000 requests/s on a 2-core machine, so the emulator never bottlenecks kagiya's
// own load tests. Uses wrk when installed, otherwise a Node load generator in a separate process
// (so client and server do not share an event loop).
//   node bench/emulator.bench.ts            (BENCH_SECONDS=5 by default)
import { spawn, spawnSync } from "node:child_process";
import { createPrivateKey, generateKeyPairSync, sign } from "node:crypto";
import { Agent, request } from "node:http";
import { fileURLToPath } from "node:url";

const CONNECTIONS = 50;
const TARGET_RPS = 5000;

interface Result {
  tool: string;
  requests: number;
  errors: number;
  seconds: number;
  p50ms: number;
  p99ms: number;
}

/** The load generator (child process): 50 sockets, each a loop of sequential requests. */
async function loadGenerator(url: string, seconds: number): Promise<Result> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const latencies: number[] = [];
  let errors = 0;
  const warmupEnd = performance.now() + 500;
  const end = warmupEnd + seconds * 1000;
  const one = () => new Promise<void>((resolve) => {
    const t0 = performance.now();
    const req = request(url, { agent }, (res) => {
      res.on("data", () => {});
      res.on("end", () => {
        const t1 = performance.now();
        if (res.statusCode !== 200) errors++;
        else if (t0 >= warmupEnd && t1 <= end) latencies.push(t1 - t0);
        resolve();
      });
    });
    req.on("error", () => { errors++; resolve(); });
    req.end();
  });
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (performance.now() < end) await one();
  }));
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN;
  return { tool: "node http.Agent", requests: latencies.length, errors, seconds, p50ms: q(0.5), p99ms: q(0.99) };
}

async function runWrk(url: string, seconds: number): Promise<Result | undefined> {
  if (spawnSync("sh", ["-c", "command -v wrk"]).status !== 0) return undefined;
  // Asynchronous: the emulator serves from this very process, so a blocking spawnSync would starve it.
  const child = spawn("wrk", ["-t2", `-c${CONNECTIONS}`, `-d${seconds}s`, "--latency", url], { stdio: ["ignore", "pipe", "inherit"] });
  let stdout = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
  const r = { status, stdout };
  if (r.status !== 0) return undefined;
  const reqs = /(\d+) requests in ([\d.]+)s/.exec(r.stdout);
  const unit = (v: string, u: string) => Number(v) * (u === "s" ? 1000 : u === "us" ? 0.001 : 1);
  const p50 = /50%\s+([\d.]+)(us|ms|s)/.exec(r.stdout);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(r.stdout);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(r.stdout);
  if (!reqs || !p50 || !p99) return undefined;
  return { tool: "wrk", requests: Number(reqs[1]), errors: Number(non2xx?.[1] ?? 0), seconds: Number(reqs[2]), p50ms: unit(p50[1]!, p50[2]!), p99ms: unit(p99[1]!, p99[2]!) };
}

/** Sets up a channel, a key and a v2.1 token over the control API; returns the verify URL. */
async function prepare(base: string): Promise<string> {
  const post = async (path: string, body: unknown) =>
    (await fetch(base + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })).json() as Promise<any>;
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pub = publicKey.export({ format: "jwk" });
  const { channelId } = await post("/__emulator/channels", {});
  const { kid } = await post(`/__emulator/channels/${channelId}/keys`, { kty: "RSA", alg: "RS256", use: "sig", n: pub.n, e: pub.e });
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: "RS256", typ: "JWT", kid })}.${b64({ iss: channelId, sub: channelId, aud: "https://api.line.me/", exp: now + 600, token_exp: 86400 })}`;
  const jwt = `${input}.${sign("sha256", Buffer.from(input), createPrivateKey(privateKey.export({ format: "pem", type: "pkcs8" }))).toString("base64url")}`;
  const res = await fetch(`${base}/oauth2/v2.1/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: jwt }),
  });
  const { access_token } = (await res.json()) as { access_token: string };
  return `${base}/oauth2/v2.1/verify?access_token=${encodeURIComponent(access_token)}`;
}

async function main(): Promise<void> {
  const seconds = Number(process.env["BENCH_SECONDS"] ?? 5);
  const { startEmulator } = await import("../src/emulator/index.ts");
  const emu = await startEmulator();
  try {
    const url = await prepare(emu.url);
    let result = await runWrk(url, seconds);
    if (!result) {
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--load", url, String(seconds)], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
      await new Promise((r) => child.on("close", r));
      result = JSON.parse(out) as Result;
    }
    const rps = result.requests / result.seconds;
    const ok = rps >= TARGET_RPS && result.errors === 0;
    process.stdout.write(
      `emulator GET /oauth2/v2.1/verify, ${CONNECTIONS} connections, ${result.seconds}s (${result.tool})\n` +
      `  requests/s  ${rps.toFixed(0).padStart(8)}   (target >= ${TARGET_RPS})\n` +
      `  p50         ${result.p50ms.toFixed(2).padStart(8)} ms\n` +
      `  p99         ${result.p99ms.toFixed(2).padStart(8)} ms\n` +
      `  errors      ${String(result.errors).padStart(8)}\n` +
      `  ${ok ? "PASS" : "BELOW TARGET"}\n`,
    );
    process.exitCode = ok ? 0 : 1;
  } finally {
    await emu.close();
  }
}

if (process.argv[2] === "--load") {
  const result = await loadGenerator(process.argv[3]!, Number(process.argv[4]));
  process.stdout.write(JSON.stringify(result));
} else {
  await main();
}
