// LINE assertion signing and verification throughput on one core (issue 2, item 9).
// Standalone: `node bench/jwt.bench.ts` (also run by `npm run bench`). Not a test.
// KAGIYA_BENCH_SECONDS (default 3) and KAGIYA_BENCH_RUNS (default 3) shorten a smoke run.
import { spawnSync } from "node:child_process";
import { SignJWT, compactVerify, importJWK } from "jose";
import {
  createLineAssertion, generateAssertionKeyPair, importAssertionKey, importVerifyKey, nodeRsa, verifyJws, webCryptoRsa,
} from "../src/index.ts";

const SECONDS = Number(process.env["KAGIYA_BENCH_SECONDS"] ?? 3);
const RUNS = Math.max(3, Number(process.env["KAGIYA_BENCH_RUNS"] ?? 3));
const CHANNEL = "1234567890";
const KID = "9869e446-3489-4516-a83f-ec9214ad94d0";

/**
 * Calls `op` back to back (each awaited: one operation in flight, so one core) for SECONDS.
 * Returns operations per CPU second (user + system, all of this process's threads), the
 * divisor `openssl speed` uses by default, so the ratio holds on a busy machine too; and
 * operations per wall-clock second for reference.
 */
async function rate(op: () => Promise<unknown>): Promise<{ cpu: number; wall: number }> {
  for (let i = 0; i < 20; i++) await op(); // warm-up
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  while (performance.now() < end) {
    await op();
    n++;
  }
  const cpu = process.cpuUsage(cpu0);
  return { cpu: n / ((cpu.user + cpu.system) / 1e6), wall: n / ((performance.now() - start) / 1000) };
}

function openssl(): { sign: number; verify: number } | undefined {
  // One process (no -multi): the single-core physical limit for RSA-2048 on this machine.
  // openssl speed divides by CPU user time unless given -elapsed.
  const r = spawnSync("openssl", ["speed", "-seconds", String(SECONDS), "rsa2048"], { encoding: "utf8" });
  const m = /rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)/.exec(r.stdout ?? "");
  return m ? { sign: Number(m[1]), verify: Number(m[2]) } : undefined;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const pair = await generateAssertionKeyPair();
const key = await importAssertionKey(pair.privateJwk, { backend: nodeRsa }); // what the CLI uses on Node
const webKey = await importAssertionKey(pair.privateJwk, { backend: webCryptoRsa });
const verifyKey = await importVerifyKey(pair.publicJwk, { backend: nodeRsa });
const joseKeyOnce = await importJWK(pair.privateJwk, "RS256");
const josePublic = await importJWK(pair.publicJwk, "RS256");
const claims = () => ({ iss: CHANNEL, sub: CHANNEL, aud: "https://api.line.me/", exp: Math.floor(Date.now() / 1000) + 300, token_exp: 2592000 });
const sample = await createLineAssertion(key, { channelId: CHANNEL, kid: KID });
if (!(await verifyJws(sample, verifyKey)).valid) throw new Error("bench setup: kagiya's own assertion does not verify");

const cases: Array<{ name: string; kind: "sign" | "verify"; op: () => Promise<unknown> }> = [
  { name: `kagiya createLineAssertion, key imported once (${key.backend})`, kind: "sign", op: () => createLineAssertion(key, { channelId: CHANNEL, kid: KID }) },
  { name: "kagiya createLineAssertion, key imported once (webcrypto)", kind: "sign", op: () => createLineAssertion(webKey, { channelId: CHANNEL, kid: KID }) },
  { name: "jose SignJWT, key imported once", kind: "sign", op: () => new SignJWT(claims()).setProtectedHeader({ alg: "RS256", typ: "JWT", kid: KID }).sign(joseKeyOnce) },
  {
    name: "jose SignJWT, importJWK on every call",
    kind: "sign",
    op: async () => new SignJWT(claims()).setProtectedHeader({ alg: "RS256", typ: "JWT", kid: KID }).sign(await importJWK(pair.privateJwk, "RS256")),
  },
  { name: `kagiya verifyJws, key imported once (${verifyKey.backend})`, kind: "verify", op: () => verifyJws(sample, verifyKey) },
  { name: "jose compactVerify, key imported once", kind: "verify", op: () => compactVerify(sample, josePublic) },
];

const results = new Map<string, number[]>(cases.map((c) => [c.name, []]));
const wallResults = new Map<string, number[]>(cases.map((c) => [c.name, []]));
const opensslSign: number[] = [];
const opensslVerify: number[] = [];
// Interleaved rounds, so drift in machine load touches every row alike.
for (let run = 1; run <= RUNS; run++) {
  process.stderr.write(`run ${run}/${RUNS}...\n`);
  const o = openssl();
  if (o) {
    opensslSign.push(o.sign);
    opensslVerify.push(o.verify);
  }
  for (const c of cases) {
    const r = await rate(c.op);
    results.get(c.name)!.push(r.cpu);
    wallResults.get(c.name)!.push(r.wall);
  }
}

const baseSign = opensslSign.length ? median(opensslSign) : undefined;
const baseVerify = opensslVerify.length ? median(opensslVerify) : undefined;
const rows: string[][] = [["operation", "median ops/CPU-s", "spread (min-max)", "vs openssl", "wall ops/s"]];
const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
const row = (name: string, xs: number[], base: number | undefined, wall?: number[]) => {
  const m = median(xs);
  rows.push([name, fmt(m), `${fmt(Math.min(...xs))}-${fmt(Math.max(...xs))} (±${((100 * (Math.max(...xs) - Math.min(...xs))) / 2 / m).toFixed(1)}%)`, base ? `${(m / base).toFixed(2)}x` : "n/a", wall ? fmt(median(wall)) : "-"]);
};
if (baseSign) row("openssl speed rsa2048 sign (1 process)", opensslSign, baseSign);
for (const c of cases.filter((c) => c.kind === "sign")) row(c.name, results.get(c.name)!, baseSign, wallResults.get(c.name));
if (baseVerify) row("openssl speed rsa2048 verify (1 process)", opensslVerify, baseVerify);
for (const c of cases.filter((c) => c.kind === "verify")) row(c.name, results.get(c.name)!, baseVerify, wallResults.get(c.name));

const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
process.stdout.write(`RS256, RSA-2048, ${RUNS} runs of ${SECONDS} s each, one operation in flight (one core)\n`);
for (const [i, r] of rows.entries()) {
  process.stdout.write(r.map((cell, j) => (j === 0 ? cell.padEnd(widths[j]!) : cell.padStart(widths[j]!))).join("  ") + "\n");
  if (i === 0) process.stdout.write(widths.map((w) => "-".repeat(w)).join("  ") + "\n");
}
if (baseSign && baseVerify) {
  const sign = median(results.get(cases[0]!.name)!) / baseSign;
  const verify = median(results.get(cases[4]!.name)!) / baseVerify;
  process.stdout.write(`\ntargets: sign >= 0.88x openssl: ${sign.toFixed(2)}x ${sign >= 0.88 ? "met" : "MISSED"}; verify >= 0.60x openssl: ${verify.toFixed(2)}x ${verify >= 0.6 ? "met" : "MISSED"}\n`);
} else {
  process.stdout.write("\nopenssl not found: ratios not computed\n");
}
