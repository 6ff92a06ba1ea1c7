// 10,000 seeded random webhook requests against the in-process handler: no 5xx, no bad
// signature accepted, no good one refused, and every event of every good delivery handled once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createWebhookHandler } from "../../src/webhook/handler.ts";
import { signWebhookBody } from "../../src/core/webhook/signature.ts";
import { DESTINATION, memoryLogger, prng } from "./fixtures.ts";

const SEED = Number(process.env["KAGIYA_FUZZ_SEED"] ?? 20260522);
const N = 10_000;
const MAX = 64 * 1024; // a smaller limit keeps oversize cases cheap; the logic is the same
const CHANNELS = new Map([["1000000001", "s".repeat(32)], ["1000000002", "0123456789abcdef0123456789abcdef"], ["1000000003", "秘密-secret"]]);

type Expect = "ok" | "badjson" | "badsig" | "toolarge";

test(`fuzz: ${N} random webhook requests (seed ${SEED})`, async () => {
  const rand = prng(SEED);
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T,>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const randString = (len: number) => {
    const pools = ["abcXYZ019", "{}[]\",:\\", "こんにちは鍵屋", "\u0000\u001f\u007f", "🎉😀", " \t\r\n"];
    let s = "";
    while (s.length < len) s += pick(pools)[int(pick(pools).length)] ?? "a";
    return s.slice(0, len);
  };
  let eventSeq = 0;
  const randomValue = (depth: number): unknown => {
    switch (int(depth > 2 ? 4 : 7)) {
      case 0: return int(2 ** 31) * (rand() < 0.5 ? -1 : 1);
      case 1: return randString(int(20));
      case 2: return rand() < 0.5;
      case 3: return null;
      case 4: return Array.from({ length: int(4) }, () => randomValue(depth + 1));
      default: return Object.fromEntries(Array.from({ length: int(4) }, () => [randString(1 + int(8)), randomValue(depth + 1)]));
    }
  };
  const randomEvent = () => ({
    type: pick(["message", "follow", "unfollow", "postback", "join", "beacon", "somethingNew"]),
    mode: pick(["active", "standby"]),
    timestamp: 1_700_000_000_000 + int(1e9),
    source: { type: "user", userId: "U" + "ab".repeat(16) },
    webhookEventId: `01FUZZ${SEED}-${++eventSeq}`,
    deliveryContext: { isRedelivery: rand() < 0.1 },
    replyToken: randString(int(40)),
    message: { type: "text", id: String(int(1e15)), text: randString(int(200)) },
    extra: randomValue(0),
  });
  const encode = (s: string) => new TextEncoder().encode(s);

  let handled = 0;
  const handler = createWebhookHandler({
    secretFor: (id) => CHANNELS.get(id),
    maxBodyBytes: MAX,
    onEvent: () => void handled++,
    logger: memoryLogger(),
  });

  let fiveHundreds = 0;
  let badAccepted = 0;
  let goodRefused = 0;
  let expectedEvents = 0;
  const counts: Record<string, number> = {};
  for (let i = 0; i < N; i++) {
    const channelId = pick([...CHANNELS.keys()]);
    const secret = CHANNELS.get(channelId)!;
    let url = `http://kagiya.test/webhook/${channelId}`;
    let events = Array.from({ length: int(4) }, randomEvent);
    let bytes: Uint8Array;
    let expect: Expect = "ok";
    // --- body ---
    const bodyKind = int(10);
    if (bodyKind < 6) {
      bytes = encode(JSON.stringify({ destination: DESTINATION, events, ...(rand() < 0.3 ? { unknownTop: randomValue(0) } : {}) }, null, rand() < 0.2 ? int(4) : undefined));
    } else if (bodyKind === 6) {
      bytes = crypto.getRandomValues(new Uint8Array(int(2048)));
      expect = "badjson";
    } else if (bodyKind === 7) {
      // Valid JSON in UTF-16 or with a broken UTF-8 sequence: signed, but not UTF-8 JSON.
      const json = JSON.stringify({ destination: DESTINATION, events });
      bytes = rand() < 0.5 ? new Uint8Array(Buffer.from(json, "utf16le")) : new Uint8Array([...encode(json.slice(0, -1)), 0xc3, 0x28, 0x7d]);
      expect = "badjson";
    } else if (bodyKind === 8) {
      bytes = encode(pick(["[]", "null", "1", '"events"', '{"events":null}', '{"events":"[]"}', '{"destination":"U"}']));
      expect = "badjson";
    } else {
      events = [];
      bytes = encode(JSON.stringify({ destination: DESTINATION, events, pad: "x".repeat(rand() < 0.5 ? MAX : int(MAX - 100)) }));
      if (bytes.byteLength > MAX) expect = "toolarge";
    }
    // --- signature ---
    const good = await signWebhookBody(secret, bytes);
    let signature: string | null = good;
    const sigKind = int(12);
    const sigBad = sigKind >= 6;
    if (sigBad) {
      if (expect !== "toolarge") expect = "badsig";
      switch (sigKind) {
        case 6: signature = null; break;
        case 7: { const at = int(43); const c = good[at] === "A" ? "B" : "A"; signature = good.slice(0, at) + c + good.slice(at + 1); break; }
        case 8: signature = await signWebhookBody(pick([...CHANNELS.values()].filter((s) => s !== secret)), bytes); break;
        case 9: signature = pick([good.slice(0, int(44)), good + "=", good.replace(/\+/g, "-").replace(/\//g, "_").replace(/=$/, ""), good.toLowerCase() === good ? "" : good.toLowerCase(), good.slice(0, 20) + " " + good.slice(21), String.fromCharCode(...Array.from({ length: 44 }, () => 0x80 + int(0x7f)))]); break;
        case 10: { // body changed after signing
          const copy = new Uint8Array(bytes.byteLength + 1);
          copy.set(bytes);
          copy[bytes.byteLength] = 0x20;
          if (bytes.byteLength + 1 > MAX && expect !== "toolarge") expect = "toolarge";
          bytes = copy;
          break;
        }
        default: { // right secret, wrong channel URL, or a channel that does not exist
          url = rand() < 0.5 ? `http://kagiya.test/webhook/${pick([...CHANNELS.keys()].filter((c) => c !== channelId))}` : `http://kagiya.test/webhook/${pick(["9", "../etc", "%2e%2e", "", "1000000001x", "a".repeat(100)])}`;
        }
      }
    }
    // --- headers ---
    const headers = new Headers();
    // Surrounding whitespace is not part of an HTTP header value (Fetch and node:http trim it).
    if (signature !== null) headers.set(pick(["x-line-signature", "X-Line-Signature", "X-LINE-SIGNATURE"]), rand() < 0.1 ? ` ${signature}\t` : signature);
    if (rand() < 0.7) headers.set("content-type", pick(["application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "garbage/😀".replace("😀", "x")]));
    if (rand() < 0.2) headers.set("content-encoding", pick(["gzip", "br", "identity", "nonsense"]));
    if (rand() < 0.2) headers.set("x-" + randString(5).replace(/[^a-z]/gi, "a"), "v");
    // A lying Content-Length that is too big is refused as 413 before reading.
    if (rand() < 0.05) {
      headers.set("content-length", String(MAX + 1 + int(1e9)));
      if (expect === "ok" || expect === "badjson") expect = "toolarge";
    }
    const method = rand() < 0.01 ? pick(["PUT", "PATCH", "DELETE"]) : "POST";
    const res = await handler(new Request(url, { method, headers, body: bytes as RequestInit["body"] }));
    const status = res.status;
    await res.arrayBuffer();
    counts[`${expect}:${status}`] = (counts[`${expect}:${status}`] ?? 0) + 1;
    if (status >= 500) fiveHundreds++;
    if (method !== "POST") { assert.equal(status, 405); continue; }
    const accepted = status === 200 || status === 400;
    if (expect === "badsig" && accepted) badAccepted++;
    if (expect === "ok" && status !== 200) goodRefused++;
    if (expect === "badjson" && status !== 400) goodRefused++;
    // Over the limit with a good signature: 413. With a bad one, 401 or 413 are both refusals.
    if (expect === "toolarge") assert.ok(status === 413 || (sigBad && status === 401), `toolarge case got ${status}`);
    if (expect === "badsig") assert.ok(status === 401 || status === 413, `badsig case got ${status} (sigKind ${sigKind}, url ${url}, sig ${JSON.stringify(signature)})`);
    if (expect === "ok" && status === 200) expectedEvents += events.length;
  }
  await handler.drain();
  assert.equal(fiveHundreds, 0, "no 5xx");
  assert.equal(badAccepted, 0, "no bad signature accepted");
  assert.equal(goodRefused, 0, `no good signature refused: ${JSON.stringify(counts)}`);
  assert.equal(handled, expectedEvents, "every event of every accepted delivery handled exactly once");
  // The run covered every category.
  for (const k of ["ok:200", "badjson:400", "badsig:401", "toolarge:413"]) assert.ok((counts[k] ?? 0) > 50, `${k}: ${JSON.stringify(counts)}`);
});
