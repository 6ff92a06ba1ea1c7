// Authorized fetch overhead (issue 14's bench, first half): calls to a local resource server through
// kagiya's createAuthorizedFetch (MemoryTokenHolder, token not due) against a plain fetch with a
// fixed Authorization header, in the same run, interleaved. Standalone: `node bench/oauth.bench.ts`.
// KAGIYA_BENCH_SECONDS (default 3) and KAGIYA_BENCH_RUNS (default 5) shorten a smoke run.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { clientSecretBasic, createAuthorizedFetch, defineProvider, MemoryTokenHolder } from "../src/clients/oauth/index.ts";

const SECONDS = Number(process.env["KAGIYA_BENCH_SECONDS"] ?? 3);
const RUNS = Math.max(3, Number(process.env["KAGIYA_BENCH_RUNS"] ?? 5));

const server = createServer((req, res) => {
  res.writeHead(req.headers.authorization === "Bearer bench-token" ? 200 : 401, { "content-type": "application/json" }).end('{"ok":true}');
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/me`;

const provider = defineProvider({ issuer: "https://auth.example.com", authorizationEndpoint: "https://auth.example.com/authorize", tokenEndpoint: "https://auth.example.com/token" });
const client = { clientId: "bench", auth: clientSecretBasic("bench-secret") };
const now = Date.now();
const holder = new MemoryTokenHolder(provider, client, {
  accessToken: "bench-token", tokenType: "Bearer", expiresAt: now + 3_600_000, refreshToken: "r", scope: [], idToken: undefined, idTokenClaims: undefined, obtainedAt: now,
});
const authorized = createAuthorizedFetch({ holder, allowedOrigins: [url] });
const plain = (u: string) => fetch(u, { headers: { authorization: "Bearer bench-token" } });

/** Sequential calls for SECONDS; microseconds per call (wall). */
async function perCall(call: (u: string) => Promise<Response>): Promise<number> {
  for (let i = 0; i < 200; i++) await (await call(url)).arrayBuffer();
  let n = 0;
  const start = performance.now();
  const end = start + SECONDS * 1000;
  while (performance.now() < end) {
    const r = await call(url);
    if (r.status !== 200) throw new Error(`bench: status ${r.status}`);
    await r.arrayBuffer();
    n++;
  }
  return ((performance.now() - start) * 1000) / n;
}

const results = { plain: [] as number[], authorized: [] as number[] };
for (let run = 0; run < RUNS; run++) {
  results.plain.push(await perCall(plain));
  results.authorized.push(await perCall(authorized));
}
server.close();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const spread = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
console.log(`| client | µs per call, median of ${RUNS} | spread |`);
console.log("|---|---|---|");
console.log(`| plain fetch, fixed header | ${median(results.plain).toFixed(0)} | ${spread(results.plain)} |`);
console.log(`| kagiya createAuthorizedFetch | ${median(results.authorized).toFixed(0)} | ${spread(results.authorized)} |`);
console.log(`overhead: ${(median(results.authorized) - median(results.plain)).toFixed(0)} µs per call (${((median(results.authorized) / median(results.plain) - 1) * 100).toFixed(0)}%)`);
