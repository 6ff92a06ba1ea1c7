// 10,000 fuzzed webhook requests to `kagiya serve`'s route over real TCP: random bodies (bytes,
// JSON, near-JSON, UTF-16, BOMs, sizes up to past the 1 MB limit), signatures (right, another
// channel's, truncated, padded, re-cased, repeated), header spellings, content types, paths and
// framings (chunked, a Content-Length shorter or longer than the body). Every request gets its own
// connection, so a lying framing cannot blur the next answer. Then: no 5xx, nothing signed badly
// accepted, nothing signed well refused, and each good event handled exactly once.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { connect } from "node:net";
import { mulberry32 } from "../../src/core/prng.ts";
import { startTestBroker, request, type TestBroker } from "./helpers.ts";

const TOTAL = 10_000;
const PARALLEL = 50;

let t: TestBroker;
const handled = new Map<string, number>();
before(async () => {
  t = await startTestBroker({
    channels: 2,
    server: {
      bodyTimeoutMs: 1000,
      bot: { dispatch: (event: { webhookEventId?: string }) => void handled.set(event.webhookEventId ?? "?", (handled.get(event.webhookEventId ?? "?") ?? 0) + 1) },
    },
  });
});
after(() => t.close());

interface Case {
  /** The request as sent. */
  bytes: Buffer;
  /** The body is what a valid, correctly signed delivery for the path's channel looks like. */
  good: boolean;
  /** Correctly signed for the path's channel but not a webhook object: 400. */
  signedBad: boolean;
  /** The framing lies or the body is over the limit: any refusal (or no answer) is right. */
  odd: boolean;
  eventId: string | null;
}

function makeCase(rand: () => number, i: number, a: { id: string; secret: string }, b: { id: string; secret: string }): Case {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
  const eventId = `01FUZZ${String(i).padStart(20, "0")}`;
  // Body
  let body: Buffer;
  let webhook = false;
  let hasEvent = false;
  const kind = rand();
  if (kind < 0.4) {
    webhook = true;
    hasEvent = rand() >= 0.15;
    const events = !hasEvent ? [] : [{ type: pick(["message", "follow", "unfollow", "postback", "x".repeat(Math.floor(rand() * 40))]), webhookEventId: eventId, timestamp: i, mode: "active", source: { type: "user", userId: "U" + "0".repeat(32) }, deliveryContext: { isRedelivery: false } }];
    const text = JSON.stringify({ destination: "U" + "f".repeat(32), events });
    body = rand() < 0.1 ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]) : Buffer.from(text);
  } else if (kind < 0.5) {
    body = Buffer.from(JSON.stringify(pick([[1, 2], "events", 42, null, { events: "no" }, { events: {} }, { destination: 1 }])));
  } else if (kind < 0.6) {
    body = Buffer.from(JSON.stringify({ events: [] }), "utf16le"); // not UTF-8
  } else if (kind < 0.65) {
    body = Buffer.from(`{"events":[${"{".repeat(Math.floor(rand() * 5000))}`); // deep, unterminated
  } else if (kind < 0.995) {
    body = bytes(Math.floor(rand() * 3000));
  } else {
    body = Buffer.alloc(1024 * 1024 + 1 + Math.floor(rand() * 1000), 0x20); // over the limit
  }
  // Path
  const pathKind = rand();
  const path = pathKind < 0.8 ? `/webhook/${a.id}` : pathKind < 0.88 ? `/webhook/${b.id}` : pick([`/webhook/${a.id}/`, `/webhook/${a.id}?x=1`, "/webhook/9999999999", "/webhook/%31%32", "/webhook/../webhook/1", "/webhook/", `/Webhook/${a.id}`, `/webhook/${a.id}%00`]);
  // A trailing slash is another route (404); the query string is not part of the path.
  const pathChannel = path === `/webhook/${a.id}` || path === `/webhook/${a.id}?x=1` ? a : path === `/webhook/${b.id}` ? b : null;
  // Signature
  const sign = (secret: string): string => createHmac("sha256", secret).update(body).digest("base64");
  const sigKind = rand();
  const right = pathChannel !== null && sigKind < 0.55;
  const signature = right ? sign(pathChannel!.secret)
    : sigKind < 0.62 ? sign(pathChannel === a ? b.secret : a.secret)
    : sigKind < 0.7 ? sign(a.secret).slice(0, 40)
    : sigKind < 0.76 ? sign(a.secret) + "="
    : sigKind < 0.82 ? sign(a.secret).toLowerCase()
    : sigKind < 0.9 ? bytes(Math.floor(rand() * 80)).toString("latin1").replace(/[\r\n\0]/g, "x")
    : "";
  const headers: string[] = [];
  const sigName = pick(["x-line-signature", "X-Line-Signature", "X-LINE-SIGNATURE"]);
  const omit = rand() < 0.05;
  if (!omit) headers.push(`${sigName}: ${signature}`);
  const repeated = !omit && rand() < 0.03;
  if (repeated) headers.push(`x-line-signature: ${sign(b.secret)}`);
  headers.push(`content-type: ${pick(["application/json", "application/json; charset=utf-8", "text/plain", "application/octet-stream", "multipart/form-data; boundary=x"])}`);
  // Framing
  const framing = rand();
  let head: string;
  let payload: Buffer;
  let odd = body.length > 1024 * 1024;
  if (framing < 0.1) {
    head = "transfer-encoding: chunked";
    const parts: Buffer[] = [];
    for (let at = 0; at < body.length;) {
      const n = Math.min(body.length - at, 1 + Math.floor(rand() * 700));
      parts.push(Buffer.from(`${n.toString(16)}\r\n`), body.subarray(at, at + n), Buffer.from("\r\n"));
      at += n;
    }
    parts.push(Buffer.from("0\r\n\r\n"));
    payload = Buffer.concat(parts);
  } else if (framing < 0.13) {
    head = `content-length: ${Math.max(0, body.length - 1 - Math.floor(rand() * 10))}`;
    payload = body;
    odd = true;
  } else if (framing < 0.145) {
    head = `content-length: ${body.length + 1 + Math.floor(rand() * 10)}`;
    payload = body;
    odd = true;
  } else {
    head = `content-length: ${body.length}`;
    payload = body;
  }
  const method = rand() < 0.02 ? pick(["GET", "PUT", "PATCH"]) : "POST";
  if (method !== "POST") odd = true;
  const bytesOut = Buffer.concat([Buffer.from(`${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n${headers.join("\r\n")}\r\n${head}\r\n\r\n`, "latin1"), payload]);
  // Node joins repeated x-line-signature headers with ", ": no longer the right signature.
  const verifiedRight = right && !omit && !repeated;
  const good = !odd && verifiedRight && webhook;
  const signedBad = !odd && verifiedRight && !webhook;
  return { bytes: bytesOut, good, signedBad, odd, eventId: good && hasEvent ? eventId : null };
}

function send(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(port, "127.0.0.1", () => sock.end(bytes));
    let data = "";
    sock.setEncoding("latin1").on("data", (d: string) => (data += d));
    sock.on("close", () => resolve(data));
    sock.on("error", () => resolve(data));
  });
}

test(`${TOTAL.toLocaleString("en")} fuzzed webhook requests over TCP: no 5xx, no bad signature accepted, no good one refused, each good event handled once`, async () => {
  const [ca, cb] = t.channels;
  const a = { id: ca!.channelId, secret: ca!.channelSecret };
  const b = { id: cb!.channelId, secret: cb!.channelSecret };
  const rand = mulberry32(0x5eed2026);
  const port = Number(new URL(t.url).port);
  const tally = { good: 0, signedBad: 0, refused: 0, odd: 0, unanswered: 0 };
  const goodEvents = new Set<string>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < TOTAL) {
      const i = next++;
      const c = makeCase(rand, i, a, b);
      const answer = await send(port, c.bytes);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
      const what = `case ${i} (${c.bytes.subarray(0, 120).toString("latin1").replace(/\r\n/g, " | ")}): ${answer.slice(0, 200)}`;
      assert.ok(status < 500, `5xx for ${what}`);
      if (c.good) {
        assert.equal(status, 200, `good request refused: ${what}`);
        tally.good++;
        if (c.eventId !== null) goodEvents.add(c.eventId);
      } else if (c.signedBad) {
        assert.equal(status, 400, `signed non-webhook body: ${what}`);
        tally.signedBad++;
      } else if (c.odd) {
        assert.notEqual(status, 200, `odd request accepted: ${what}`);
        if (status === 0) tally.unanswered++;
        tally.odd++;
      } else {
        assert.ok(status >= 400 && status < 500, `badly signed request accepted: ${what}`);
        tally.refused++;
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  assert.ok(tally.good > 1000 && tally.refused > 3000 && tally.signedBad > 100 && tally.odd > 300, JSON.stringify(tally));
  await t.broker.drainWebhooks();
  // Each good event reached the bot exactly once, and nothing else did.
  for (const id of goodEvents) assert.equal(handled.get(id), 1, `${id} handled ${handled.get(id) ?? 0} times`);
  assert.deepEqual([...handled.keys()].filter((id) => !goodEvents.has(id)), [], "events from requests that were not good were handled");
  assert.equal((await request(`${t.url}/healthz`)).status, 200);
});
