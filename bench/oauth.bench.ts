// Issue 14's bench. 1) Authorized fetch overhead: calls to a local resource server through kagiya's
// createAuthorizedFetch — over a MemoryTokenHolder, and over a stored grant (kind oauth2, the
// engine's token from memory) — against a plain fetch with a fixed Authorization header, in the
// same run, interleaved. 2) Refresh herd: managers sharing one store, each firing concurrent calls
// across the refresh point, against a local token endpoint that rotates refresh tokens: refreshes
// counted (one is right). Standalone: `node bench/oauth.bench.ts`.
// KAGIYA_BENCH_SECONDS (default 3) and KAGIYA_BENCH_RUNS (default 5) shorten a smoke run.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { clientSecretBasic, createAuthorizedFetch, defineProvider, MemoryTokenHolder } from "../src/clients/oauth/index.ts";
import { OAUTH2_KIND, registrationSettings } from "../src/kinds/oauth2/registration.ts";
import { MemoryStore } from "../src/store/memory.ts";
import { ChannelRegistry } from "../src/store/registry.ts";
import { generateMasterKeyText, MasterKey, Sealer } from "../src/store/sealed.ts";
import { TokenManager } from "../src/tokens/manager.ts";
import { engineTokenHolder } from "../src/tokens/oauth-grants.ts";

const SECONDS = Number(process.env["KAGIYA_BENCH_SECONDS"] ?? 3);
const RUNS = Math.max(3, Number(process.env["KAGIYA_BENCH_RUNS"] ?? 5));

// The resource accepts the fixed token and whatever the token endpoint issued last; the token
// endpoint answers refresh grants with a new access token and a rotated refresh token.
const issued = new Set<string>(["bench-token"]);
let refreshes = 0;
const server = createServer((req, res) => {
  if (req.method === "POST" && req.url === "/token") {
    refreshes++;
    req.resume();
    const access = randomBytes(16).toString("hex");
    issued.add(access);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ access_token: access, token_type: "Bearer", expires_in: 60, refresh_token: randomBytes(16).toString("hex") }));
    return;
  }
  const token = req.headers.authorization?.slice(7) ?? "";
  res.writeHead(issued.has(token) ? 200 : 401, { "content-type": "application/json" }).end('{"ok":true}');
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

// A stored grant: registration with explicit endpoints at the local server, logged in (adopted).
const origin = new URL(url).origin;
const store = new MemoryStore();
await store.migrate();
const masterKey = generateMasterKeyText();
const openRegistry = () => ChannelRegistry.open(store, new Sealer(MasterKey.parse(masterKey)));
const registry = await openRegistry();
await registry.add({
  channelId: "bench", kind: OAUTH2_KIND, kid: "", privateKey: { kty: "none", d: "" } as never, channelSecret: "", secrets: { clientSecret: "bench-secret" },
  settings: registrationSettings({
    name: "bench", preset: undefined, issuer: origin, discovery: false, authorizeUrl: `${origin}/authorize`, tokenUrl: `${origin}/token`, revokeUrl: undefined, userinfoUrl: undefined,
    clientId: "bench", authMethod: "client_secret_basic", scope: "", redirectUri: undefined, webRedirectUri: undefined, returnUrl: undefined, apiOrigins: [origin], allowInsecure: false, authParams: {},
  }),
});
const manager = new TokenManager({ registry });
await manager.adopt("bench", { accessToken: "bench-token", keyId: "bench-login", expiresIn: 3600, grant: { refreshToken: "login-refresh", scope: [] } });
const stored = createAuthorizedFetch({ holder: engineTokenHolder(manager, "bench"), allowedOrigins: [origin] });

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

const results = { plain: [] as number[], authorized: [] as number[], stored: [] as number[] };
for (let run = 0; run < RUNS; run++) {
  results.plain.push(await perCall(plain));
  results.authorized.push(await perCall(authorized));
  results.stored.push(await perCall(stored));
}

/** `managers` TokenManagers on one store (processes sharing it), each `calls` concurrent calls past the refresh point. */
let offset = 0;
async function herd(managers: number, calls: number): Promise<{ refreshes: number; ok: number; ms: number }> {
  const now = () => Date.now() + offset;
  const ms = await Promise.all(Array.from({ length: managers }, async () => new TokenManager({ registry: await openRegistry(), now })));
  const fetches = ms.map((m) => createAuthorizedFetch({ holder: engineTokenHolder(m, "bench"), allowedOrigins: [origin] }));
  await Promise.all(fetches.map((f) => f(url).then((r) => r.arrayBuffer())));
  offset += 7_200_000; // past the token's end (each herd starts where the last one left the clock)
  const before = refreshes;
  const t0 = performance.now();
  const statuses = await Promise.all(fetches.flatMap((f) => Array.from({ length: calls }, () => f(url).then(async (r) => (await r.arrayBuffer(), r.status)))));
  return { refreshes: refreshes - before, ok: statuses.filter((s) => s === 200).length, ms: performance.now() - t0 };
}
const herds: Array<[number, number, Awaited<ReturnType<typeof herd>>]> = [];
for (const [m, c] of [[4, 50], [16, 50]] as const) herds.push([m, c, await herd(m, c)]);
server.close();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const spread = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
console.log(`| client | µs per call, median of ${RUNS} | spread |`);
console.log("|---|---|---|");
console.log(`| plain fetch, fixed header | ${median(results.plain).toFixed(0)} | ${spread(results.plain)} |`);
console.log(`| kagiya createAuthorizedFetch | ${median(results.authorized).toFixed(0)} | ${spread(results.authorized)} |`);
console.log(`| kagiya createAuthorizedFetch over a stored grant (engine) | ${median(results.stored).toFixed(0)} | ${spread(results.stored)} |`);
console.log(`overhead: ${(median(results.authorized) - median(results.plain)).toFixed(0)} µs per call (${((median(results.authorized) / median(results.plain) - 1) * 100).toFixed(0)}%) in memory, ${(median(results.stored) - median(results.plain)).toFixed(0)} µs (${((median(results.stored) / median(results.plain) - 1) * 100).toFixed(0)}%) over a stored grant`);
console.log("");
console.log("| refresh herd (managers × concurrent calls, one store) | refreshes | calls answered 200 | ms |");
console.log("|---|---|---|---|");
for (const [m, c, r] of herds) console.log(`| ${m} × ${c} | ${r.refreshes} | ${r.ok}/${m * c} | ${r.ms.toFixed(0)} |`);
