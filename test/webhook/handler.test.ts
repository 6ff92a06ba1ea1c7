import { test } from "node:test";
import assert from "node:assert/strict";
import { createWebhookHandler } from "../../src/webhook/handler.ts";
import { MemoryDedup } from "../../src/webhook/dedup.ts";
import { WebhookConfigError } from "../../src/webhook/errors.ts";
import type { WebhookEvent } from "../../src/webhook/types.ts";
import { channelIdFromPath, type RejectInfo } from "../../src/webhook/intake.ts";
import { DESTINATION, DOCS_VECTOR, memoryLogger, signedRequest, textEvent } from "./fixtures.ts";

const SECRET_A = "a".repeat(32);
const SECRET_B = "b".repeat(32);
const secrets = new Map([["1111111111", SECRET_A], ["2222222222", SECRET_B]]);
const urlOf = (id: string) => `http://kagiya.test/webhook/${id}`;

function setup(extra: Partial<Parameters<typeof createWebhookHandler>[0]> = {}) {
  const seen: Array<{ event: WebhookEvent; channelId: string }> = [];
  const rejects: RejectInfo[] = [];
  const logger = memoryLogger();
  const handler = createWebhookHandler({
    secretFor: (id) => secrets.get(id),
    onEvent: (event, info) => void seen.push({ event, channelId: info.channelId }),
    onReject: (r) => void rejects.push(r),
    logger,
    ...extra,
  });
  return { handler, seen, rejects, logger };
}

const body = (events: unknown[]) => JSON.stringify({ destination: DESTINATION, events });

test("docs vector is accepted in single-channel mode: empty events answer 200", async () => {
  const handler = createWebhookHandler({ channelSecret: DOCS_VECTOR.secret, onEvent: () => {} });
  const res = await handler(await signedRequest(DOCS_VECTOR.secret, DOCS_VECTOR.body, { signature: DOCS_VECTOR.signature }));
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "", "a 200 has no body: LINE reads only the status");
});

test("a valid delivery answers 200 before handlers run, then each event reaches the handler", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const seen: string[] = [];
  const handler = createWebhookHandler({
    secretFor: (id) => secrets.get(id),
    onEvent: async (e) => {
      await gate;
      seen.push((e as { message: { text: string } }).message.text);
    },
  });
  const res = await handler(await signedRequest(SECRET_A, body([textEvent("one"), textEvent("two")]), { url: urlOf("1111111111") }));
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "");
  assert.deepEqual(seen, [], "handlers have not run when the response is out");
  release();
  await handler.drain();
  assert.deepEqual(seen, ["one", "two"]);
});

test("missing, empty and wrong signatures get 401 with a JSON error; the header name is case-insensitive", async () => {
  const { handler, seen, rejects } = setup();
  const b = body([textEvent("x")]);
  for (const signature of [null, "", "GhRKmvmHys4Pi8DxkF4+EayaH0OqtJtaZxgTD9fMDLs=", "short"]) {
    const res = await handler(await signedRequest(SECRET_A, b, { url: urlOf("1111111111"), signature }));
    assert.equal(res.status, 401);
    const json = (await res.json()) as { error: string; message: string };
    assert.equal(json.error, "ERR_WEBHOOK_SIGNATURE");
    assert.ok(!json.message.includes(SECRET_A));
  }
  const { signWebhookBody } = await import("../../src/core/webhook/signature.ts");
  const res = await handler(new Request(urlOf("1111111111"), { method: "POST", headers: { "X-LINE-SIGNATURE": await signWebhookBody(SECRET_A, b) }, body: b }));
  assert.equal(res.status, 200);
  await handler.drain();
  assert.equal(seen.length, 1);
  assert.equal(rejects.length, 4);
  assert.ok(rejects.every((r) => r.status === 401 && r.code === "ERR_WEBHOOK_SIGNATURE" && r.channelId === "1111111111"));
});

test("a body signed with channel A's secret sent to channel B's URL is refused", async () => {
  const { handler, seen } = setup();
  const b = body([textEvent("for A")]);
  const res = await handler(await signedRequest(SECRET_A, b, { url: urlOf("2222222222") }));
  assert.equal(res.status, 401);
  const ok = await handler(await signedRequest(SECRET_A, b, { url: urlOf("1111111111") }));
  assert.equal(ok.status, 200);
  await handler.drain();
  assert.deepEqual(seen.map((s) => s.channelId), ["1111111111"]);
});

test("an unknown channel gets exactly the bad-signature answer, so channels cannot be probed", async () => {
  const { handler } = setup();
  const b = body([textEvent("x")]);
  const unknown = await handler(await signedRequest(SECRET_A, b, { url: urlOf("9999999999") }));
  const badSig = await handler(await signedRequest(SECRET_B, b, { url: urlOf("1111111111") }));
  const malformed = await handler(await signedRequest(SECRET_A, b, { url: "http://kagiya.test/webhook/%00%2F" }));
  assert.equal(unknown.status, 401);
  assert.equal(malformed.status, 401);
  assert.equal(await unknown.text(), await badSig.text());
});

test("bodies over 1 MiB get 413, by Content-Length and by counting a body with no or a lying length", async () => {
  const { handler, seen } = setup();
  const big = body([textEvent("y".repeat(1024 * 1024))]);
  const declared = await handler(await signedRequest(SECRET_A, big, { url: urlOf("1111111111") }));
  assert.equal(declared.status, 413);
  assert.equal(((await declared.json()) as { error: string }).error, "ERR_WEBHOOK_BODY_TOO_LARGE");
  // A stream without Content-Length is counted while read.
  const bytes = new TextEncoder().encode(big);
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < bytes.length; i += 65536) c.enqueue(bytes.subarray(i, i + 65536));
      c.close();
    },
  });
  const { signWebhookBody } = await import("../../src/core/webhook/signature.ts");
  const streamed = await handler(new Request(urlOf("1111111111"), { method: "POST", headers: { "x-line-signature": await signWebhookBody(SECRET_A, bytes) }, body: stream, duplex: "half" } as RequestInit));
  assert.equal(streamed.status, 413);
  const lying = await handler(await signedRequest(SECRET_A, big, { url: urlOf("1111111111"), headers: { "content-length": "10" } }));
  assert.equal(lying.status, 413);
  // Exactly at the limit is fine.
  const limit = createWebhookHandler({ channelSecret: SECRET_A, maxBodyBytes: 100, onEvent: () => {} });
  const exact = '{"events":[]' + " ".repeat(100 - 13) + "}";
  assert.equal(exact.length, 100);
  assert.equal((await limit(await signedRequest(SECRET_A, exact))).status, 200);
  assert.equal((await limit(await signedRequest(SECRET_A, exact + " "))).status, 413);
  await handler.drain();
  assert.equal(seen.length, 0);
});

test("a signed body that is not JSON, or JSON without an events array, gets 400", async () => {
  const { handler } = setup();
  const cases: Array<[string | Uint8Array, string]> = [
    ["not json", "ERR_WEBHOOK_INVALID_JSON"],
    ["", "ERR_WEBHOOK_INVALID_JSON"],
    [new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), "ERR_WEBHOOK_INVALID_JSON"],
    ["[]", "ERR_WEBHOOK_INVALID_BODY"],
    ["null", "ERR_WEBHOOK_INVALID_BODY"],
    ['{"destination":"U1"}', "ERR_WEBHOOK_INVALID_BODY"],
    ['{"events":{}}', "ERR_WEBHOOK_INVALID_BODY"],
  ];
  for (const [b, code] of cases) {
    const res = await handler(await signedRequest(SECRET_A, b, { url: urlOf("1111111111") }));
    assert.equal(res.status, 400, String(b));
    assert.equal(((await res.json()) as { error: string }).error, code);
  }
});

test("methods other than POST get 405 with Allow: POST", async () => {
  const { handler } = setup();
  const res = await handler(new Request(urlOf("1111111111"), { method: "GET" }));
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("allow"), "POST");
});

test("one delivery replayed 1,000 times calls the handler once", async () => {
  const { handler, seen } = setup();
  const event = textEvent("once");
  const b = body([event]);
  const statuses = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const redelivered = i === 0 ? b : body([{ ...event, deliveryContext: { isRedelivery: true } }]);
    statuses.add((await handler(await signedRequest(SECRET_A, redelivered, { url: urlOf("1111111111") }))).status);
  }
  await handler.drain();
  assert.deepEqual([...statuses], [200]);
  assert.equal(seen.length, 1);
});

test("two handler instances sharing one dedup store process a duplicated event once", async () => {
  const shared = new MemoryDedup();
  const a = setup({ dedup: shared });
  const b = setup({ dedup: shared });
  const payload = body([textEvent("shared")]);
  const [ra, rb] = await Promise.all([
    a.handler(await signedRequest(SECRET_A, payload, { url: urlOf("1111111111") })),
    b.handler(await signedRequest(SECRET_A, payload, { url: urlOf("1111111111") })),
  ]);
  assert.equal(ra.status, 200);
  assert.equal(rb.status, 200);
  await Promise.all([a.handler.drain(), b.handler.drain()]);
  assert.equal(a.seen.length + b.seen.length, 1);
});

test("dedup entries expire after their TTL (injected clock)", async () => {
  let now = 1_000_000;
  const dedup = new MemoryDedup({ now: () => now });
  assert.equal(await dedup.markOnce("k", 1000), true);
  assert.equal(await dedup.markOnce("k", 1000), false);
  now += 1001;
  assert.equal(await dedup.markOnce("k", 1000), true);
  const small = new MemoryDedup({ maxEntries: 3, now: () => now });
  for (const k of ["a", "b", "c", "d"]) assert.equal(small.markOnceSync(k, 60_000), true);
  assert.ok(small.size <= 3);
});

test("a failing handler is logged without secrets and does not stop later events or the server", async () => {
  const logger = memoryLogger();
  const seen: string[] = [];
  const handler = createWebhookHandler({
    channelSecret: SECRET_A,
    logger,
    onEvent: (e) => {
      const text = (e as { message: { text: string } }).message.text;
      if (text === "boom") throw new Error("handler exploded");
      seen.push(text);
    },
  });
  const res = await handler(await signedRequest(SECRET_A, body([textEvent("boom"), textEvent("after")])));
  assert.equal(res.status, 200);
  await handler.drain();
  assert.deepEqual(seen, ["after"]);
  const errors = logger.lines.filter((l) => l.level === "error");
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.message, "webhook event handler failed");
  assert.ok(!JSON.stringify(logger.lines).includes(SECRET_A));
  assert.equal((await handler(await signedRequest(SECRET_A, body([textEvent("again")])))).status, 200);
  await handler.drain();
  assert.deepEqual(seen, ["after", "again"]);
});

test("unknown event types and fields pass through; non-object events are skipped", async () => {
  const { handler, seen } = setup();
  const future = { type: "hologram", mode: "active", timestamp: 1, webhookEventId: "01FUTURE000000000000000000", deliveryContext: { isRedelivery: false }, beam: { x: 1 } };
  const res = await handler(await signedRequest(SECRET_A, JSON.stringify({ destination: DESTINATION, events: [future, 42, null, [], { noType: true }], newTopLevel: true }), { url: urlOf("1111111111") }));
  assert.equal(res.status, 200);
  await handler.drain();
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.event.type, "hologram");
  assert.deepEqual(seen[0]!.event["beam"], { x: 1 });
});

test("a failing secret lookup answers 503 and the handler keeps serving", async () => {
  let fail = true;
  const handler = createWebhookHandler({
    secretFor: async (id) => {
      if (fail) throw new Error("store down");
      return secrets.get(id);
    },
    secretCacheMs: 0,
    onEvent: () => {},
    logger: memoryLogger(),
  });
  const b = body([]);
  assert.equal((await handler(await signedRequest(SECRET_A, b, { url: urlOf("1111111111") }))).status, 503);
  fail = false;
  assert.equal((await handler(await signedRequest(SECRET_A, b, { url: urlOf("1111111111") }))).status, 200);
});

test("options are validated once: unknown keys, both or neither secret source, bad numbers", () => {
  assert.throws(() => createWebhookHandler({ channelSecret: "x", secretFor: () => "x" }), WebhookConfigError);
  assert.throws(() => createWebhookHandler({} as never), WebhookConfigError);
  assert.throws(() => createWebhookHandler({ channelSecret: "x", maxBodyBytes: -1 }), WebhookConfigError);
  assert.throws(() => createWebhookHandler({ channelSecret: "x", chanelId: "typo" } as never), /Unknown webhook option "chanelId"/);
  assert.throws(() => createWebhookHandler({ channelSecret: "" }), WebhookConfigError);
});

test("an asynchronous dedup store is used per event; when it fails the event is processed and the failure logged", async () => {
  const marked: string[] = [];
  let down = false;
  const store = {
    async markOnce(key: string, ttlMs: number) {
      if (down) throw new Error("redis unreachable");
      assert.equal(ttlMs, 60_000);
      if (marked.includes(key)) return false;
      marked.push(key);
      return true;
    },
  };
  const { handler, seen, logger } = setup({ dedup: store, dedupTtlMs: 60_000 });
  const e = textEvent("x");
  for (let i = 0; i < 3; i++) assert.equal((await handler(await signedRequest(SECRET_A, body([e]), { url: urlOf("1111111111") }))).status, 200);
  await handler.drain();
  assert.equal(seen.length, 1);
  assert.deepEqual(marked, [`webhook:1111111111:${e["webhookEventId"]}`]);
  down = true;
  assert.equal((await handler(await signedRequest(SECRET_A, body([e]), { url: urlOf("1111111111") }))).status, 200);
  await handler.drain();
  assert.equal(seen.length, 2, "fail open: processed although it may be a duplicate");
  assert.ok(logger.lines.some((l) => l.level === "error" && l.message.startsWith("webhook de-duplication failed")));
});

test("duplicate checks of every accepted delivery start at once; only handlers wait for a concurrency slot", async () => {
  const waiting: Array<() => void> = [];
  // A shared store whose answers the test releases: every call made so far is visible in `waiting`.
  const store = { markOnce: () => new Promise<boolean>((resolve) => waiting.push(() => resolve(true))) };
  const handled: string[] = [];
  let unblock!: () => void;
  const blocked = new Promise<void>((r) => (unblock = r));
  const { handler } = setup({
    dedup: store,
    concurrency: 1,
    onEvent: async (event) => {
      handled.push((event as { message: { text: string } }).message.text);
      await blocked;
    },
  });
  for (let i = 0; i < 5; i++) {
    assert.equal((await handler(await signedRequest(SECRET_A, body([textEvent(`m${i}`)]), { url: urlOf("1111111111") }))).status, 200);
  }
  // Marks asked for while a batch is in flight gather for a few ms, then go out without its answer.
  for (let i = 0; i < 1000 && waiting.length < 5; i++) await new Promise((r) => setTimeout(r, 2));
  assert.equal(waiting.length, 5, "all five duplicate checks were asked for before any was answered");
  for (const release of waiting.splice(0)) release();
  for (let i = 0; i < 10 && handled.length === 0; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.equal(handled.length, 1, "one slot: one handler running");
  assert.equal(handler.pending, 5);
  unblock();
  await handler.drain();
  assert.deepEqual([...handled].sort(), ["m0", "m1", "m2", "m3", "m4"]);
});

test("past maxPending deliveries waiting, a new one gets 503 ERR_WEBHOOK_BUSY (warned once) and nothing accepted is lost", async () => {
  let unblock!: () => void;
  const blocked = new Promise<void>((r) => (unblock = r));
  const handled: string[] = [];
  const { handler, rejects, logger } = setup({
    concurrency: 1,
    maxPending: 3,
    onEvent: async (event) => {
      handled.push((event as { message: { text: string } }).message.text);
      await blocked;
    },
  });
  const send = async (text: string) => handler(await signedRequest(SECRET_A, body([textEvent(text)]), { url: urlOf("1111111111") }));
  for (const t of ["a", "b", "c"]) assert.equal((await send(t)).status, 200);
  for (const t of ["d", "e"]) {
    const busy = await send(t);
    assert.equal(busy.status, 503);
    assert.equal(((await busy.json()) as { error: string }).error, "ERR_WEBHOOK_BUSY");
  }
  // LINE's connectivity check (no events) is still answered 200.
  assert.equal((await handler(await signedRequest(SECRET_A, body([]), { url: urlOf("1111111111") }))).status, 200);
  assert.equal(rejects.filter((r) => r.code === "ERR_WEBHOOK_BUSY").length, 2);
  assert.equal(logger.lines.filter((l) => l.level === "warn" && l.message.includes("too many waiting")).length, 1);
  unblock();
  await handler.drain();
  assert.deepEqual([...handled].sort(), ["a", "b", "c"]);
  assert.equal((await send("f")).status, 200, "accepting again once handlers caught up");
  await handler.drain();
  assert.deepEqual([...handled].sort(), ["a", "b", "c", "f"]);
  assert.throws(() => createWebhookHandler({ channelSecret: SECRET_A, maxPending: 0 }), WebhookConfigError);
});

test("channelIdFromPath takes the last path segment when it is 1-64 of [A-Za-z0-9._-], else null", () => {
  const cases: Array<[string, string | null]> = [
    ["/webhook/1234567890", "1234567890"],
    ["/webhook/1234567890/", "1234567890"],
    ["/webhook/1234567890//?x=1", "1234567890"],
    ["/hooks/a.b_c-D9", "a.b_c-D9"],
    ["1234", "1234"],
    ["/webhook/" + "9".repeat(64), "9".repeat(64)],
    ["/webhook/" + "9".repeat(65), null],
    ["/webhook/", "webhook"],
    ["/", null],
    ["", null],
    ["/webhook/12%2034", null],
    ["/webhook/12 34", null],
    ["/webhook/ab:cd", null],
    ["/webhook/\u00e9t\u00e9", null],
    ["/webhook/1234?", "1234"],
  ];
  for (const [path, want] of cases) assert.equal(channelIdFromPath(path), want, path);
});
