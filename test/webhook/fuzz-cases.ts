// Seeded random webhook requests and what each must get (not a test file itself).
import { signWebhookBody } from "../../src/core/webhook/signature.ts";
import { DESTINATION, prng } from "./fixtures.ts";

export type Expect = "ok" | "badjson" | "badsig" | "toolarge";

/** One generated request and its oracle. */
export interface FuzzCase {
  /** Path and query, e.g. /webhook/1000000001. */
  path: string;
  method: string;
  headers: Headers;
  bytes: Uint8Array;
  expect: Expect;
  /** The signature is wrong (then 401 and 413 are both correct for oversized bodies). */
  sigBad: boolean;
  /** Carries a Content-Length larger than the body (only sendable in-process). */
  lyingLength: boolean;
  /** Events in the body (handled when expect is "ok"). */
  events: number;
}

/**
 * Random bodies (JSON events with random extra fields, random bytes, UTF-16, broken UTF-8, JSON
 * that is not a webhook, oversized), signatures (right, missing, flipped, truncated, base64url,
 * another channel's, non-ASCII, body changed after signing, wrong or unknown channel URL),
 * header-name case, surrounding whitespace, content types and encodings, lying lengths, methods.
 */
export async function* fuzzCases(seed: number, n: number, max: number, channels: Map<string, string>): AsyncGenerator<FuzzCase> {
  const SEED = seed;
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

  for (let i = 0; i < n; i++) {
    const channelId = pick([...channels.keys()]);
    const secret = channels.get(channelId)!;
    let url = `/webhook/${channelId}`;
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
      bytes = encode(JSON.stringify({ destination: DESTINATION, events, pad: "x".repeat(rand() < 0.5 ? max : int(max - 100)) }));
      if (bytes.byteLength > max) expect = "toolarge";
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
        case 8: signature = await signWebhookBody(pick([...channels.values()].filter((s) => s !== secret)), bytes); break;
        case 9: signature = pick([good.slice(0, int(44)), good + "=", good.replace(/\+/g, "-").replace(/\//g, "_").replace(/=$/, ""), good.toLowerCase() === good ? "" : good.toLowerCase(), good.slice(0, 20) + " " + good.slice(21), String.fromCharCode(...Array.from({ length: 44 }, () => 0x80 + int(0x7f)))]); break;
        case 10: { // body changed after signing
          const copy = new Uint8Array(bytes.byteLength + 1);
          copy.set(bytes);
          copy[bytes.byteLength] = 0x20;
          if (bytes.byteLength + 1 > max && expect !== "toolarge") expect = "toolarge";
          bytes = copy;
          break;
        }
        default: { // right secret, wrong channel URL, or a channel that does not exist
          url = rand() < 0.5 ? `/webhook/${pick([...channels.keys()].filter((c) => c !== channelId))}` : `/webhook/${pick(["9", "../etc", "%2e%2e", "", "1000000001x", "a".repeat(100)])}`;
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
      headers.set("content-length", String(max + 1 + int(1e9)));
      if (expect === "ok" || expect === "badjson") expect = "toolarge";
    }
    const method = rand() < 0.01 ? pick(["PUT", "PATCH", "DELETE"]) : "POST";
    const lyingLength = headers.has("content-length");
    yield { path: url, method, headers, bytes, expect, sigBad, lyingLength, events: expect === "ok" ? events.length : 0 };
  }
}
