// Seeded fuzzing of webhook intake: 10,000 requests against the web handler in-process, and
// 1,000 over a real port against the node:http adapter. No 5xx, no bad signature accepted, no
// good one refused, and every event of every accepted delivery handled exactly once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Agent, request as httpRequest } from "node:http";
import { createWebhookHandler } from "../../src/webhook/handler.ts";
import { createNodeWebhookListener } from "../../src/webhook/adapters/node.ts";
import { fuzzCases, type FuzzCase } from "./fuzz-cases.ts";
import { memoryLogger } from "./fixtures.ts";
import { listen } from "./emulator-setup.ts";

const SEED = Number(process.env["KAGIYA_FUZZ_SEED"] ?? 20260522);
const MAX = 64 * 1024; // a smaller limit keeps oversize cases cheap; the logic is the same
const CHANNELS = new Map([["1000000001", "s".repeat(32)], ["1000000002", "0123456789abcdef0123456789abcdef"], ["1000000003", "秘密-secret"]]);

/** Checks one answer against the case's oracle; returns the tally key. */
function judge(c: FuzzCase, status: number, tally: { fiveHundreds: number; badAccepted: number; goodRefused: number; expectedEvents: number }): string {
  if (status >= 500) tally.fiveHundreds++;
  if (c.method !== "POST") {
    assert.equal(status, 405);
    return `method:${status}`;
  }
  if (c.expect === "badsig" && (status === 200 || status === 400)) tally.badAccepted++;
  if (c.expect === "ok" && status !== 200) tally.goodRefused++;
  if (c.expect === "badjson" && status !== 400) tally.goodRefused++;
  // Over the limit with a good signature: 413. With a bad one, 401 or 413 are both refusals.
  if (c.expect === "toolarge") assert.ok(status === 413 || (c.sigBad && status === 401), `toolarge case got ${status}`);
  if (c.expect === "badsig") assert.ok(status === 401 || status === 413, `badsig case got ${status} (${c.path})`);
  if (c.expect === "ok" && status === 200) tally.expectedEvents += c.events;
  return `${c.expect}:${status}`;
}

function newTally() {
  return { fiveHundreds: 0, badAccepted: 0, goodRefused: 0, expectedEvents: 0 };
}

test(`fuzz: 10,000 random webhook requests in-process (seed ${SEED})`, async () => {
  let handled = 0;
  const handler = createWebhookHandler({ secretFor: (id) => CHANNELS.get(id), maxBodyBytes: MAX, onEvent: () => void handled++, logger: memoryLogger() });
  const tally = newTally();
  const counts: Record<string, number> = {};
  for await (const c of fuzzCases(SEED, 10_000, MAX, CHANNELS)) {
    const res = await handler(new Request(`http://kagiya.test${c.path}`, { method: c.method, headers: c.headers, body: c.bytes as RequestInit["body"] }));
    await res.arrayBuffer();
    const key = judge(c, res.status, tally);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  await handler.drain();
  assert.equal(tally.fiveHundreds, 0, "no 5xx");
  assert.equal(tally.badAccepted, 0, "no bad signature accepted");
  assert.equal(tally.goodRefused, 0, `no good signature refused: ${JSON.stringify(counts)}`);
  assert.equal(handled, tally.expectedEvents, "every event of every accepted delivery handled exactly once");
  for (const k of ["ok:200", "badjson:400", "badsig:401", "toolarge:413"]) assert.ok((counts[k] ?? 0) > 50, `${k}: ${JSON.stringify(counts)}`);
});

/** Sends raw bytes with the case's header names exactly as generated. */
function send(base: string, c: FuzzCase): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    c.headers.forEach((v, k) => (headers[k] = v));
    const req = httpRequest(`${base}${c.path}`, { method: c.method, headers: { ...headers, "content-length": String(c.bytes.byteLength) }, agent: keepAlive }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(c.bytes);
  });
}
const keepAlive = new Agent({ keepAlive: true, maxSockets: 8 });

test(`fuzz: 1,000 random webhook requests over HTTP to the node:http adapter (seed ${SEED + 1})`, async () => {
  let handled = 0;
  const listener = createNodeWebhookListener({ secretFor: (id) => CHANNELS.get(id), maxBodyBytes: MAX, onEvent: () => void handled++, logger: memoryLogger() });
  const server = await listen(listener);
  const tally = newTally();
  const counts: Record<string, number> = {};
  try {
    for await (const c of fuzzCases(SEED + 1, 1_000, MAX, CHANNELS)) {
      // A lying Content-Length cannot travel over a real connection (it is the framing).
      if (c.lyingLength) continue;
      // URL paths the HTTP client would normalize differently are covered in-process.
      if (/%|\.\./.test(c.path)) continue;
      const key = judge(c, await send(server.url, c), tally);
      counts[key] = (counts[key] ?? 0) + 1;
    }
    await listener.drain();
  } finally {
    keepAlive.destroy();
    await server.close();
  }
  assert.equal(tally.fiveHundreds, 0, "no 5xx");
  assert.equal(tally.badAccepted, 0, "no bad signature accepted");
  assert.equal(tally.goodRefused, 0, `no good signature refused: ${JSON.stringify(counts)}`);
  assert.equal(handled, tally.expectedEvents);
  for (const k of ["ok:200", "badjson:400", "badsig:401", "toolarge:413"]) assert.ok((counts[k] ?? 0) > 5, `${k}: ${JSON.stringify(counts)}`);
});
