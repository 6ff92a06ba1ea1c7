// The intake's parts on their own: frozen options (adapter keys unknown to the core), the secret
// cache on an injected clock, the delivery queue's bound and throttled warning, and the batches
// of marks sent to a shared store.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createWebhookHandler } from "../../src/webhook/handler.ts";
import { createNodeWebhookListener } from "../../src/webhook/adapters/node.ts";
import { createIntake } from "../../src/webhook/intake.ts";
import { resolveWebhookOptions, splitAdapterOptions } from "../../src/webhook/options.ts";
import { DeliveryQueue } from "../../src/webhook/queue.ts";
import { MarkBatcher, type MarkResult } from "../../src/webhook/mark-batch.ts";
import { SecretCache } from "../../src/webhook/secrets.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { WebhookConfigError } from "../../src/webhook/errors.ts";
import { DESTINATION, memoryLogger, signedRequest, textEvent } from "./fixtures.ts";

const SECRET = "s".repeat(32);

test("options resolve once into a frozen object; the core refuses adapter keys; the caller's object is not written", () => {
  const resolved = resolveWebhookOptions({ channelSecret: SECRET, onEvent: () => {} });
  assert.ok(Object.isFrozen(resolved));
  assert.equal(resolved.maxBodyBytes, 1024 * 1024);
  assert.equal(resolved.singleChannelId, "default");
  for (const key of ["bodyTimeoutMs", "channelIdFrom", "path"]) {
    assert.throws(() => createIntake({ channelSecret: SECRET, [key]: 1 } as never), (e: unknown) => e instanceof WebhookConfigError && e.message === `Unknown webhook option "${key}".`);
  }
  const given = { channelSecret: SECRET, bodyTimeoutMs: 500, channelIdFrom: () => "1", onEvent: () => {} };
  const { own, core } = splitAdapterOptions(given, ["bodyTimeoutMs", "channelIdFrom"]);
  assert.deepEqual(Object.keys(own).sort(), ["bodyTimeoutMs", "channelIdFrom"]);
  assert.deepEqual(Object.keys(core).sort(), ["channelSecret", "onEvent"]);
  createNodeWebhookListener(given);
  assert.deepEqual(Object.keys(given).sort(), ["bodyTimeoutMs", "channelIdFrom", "channelSecret", "onEvent"]);
  assert.throws(() => createWebhookHandler(null as never), WebhookConfigError);
  assert.throws(() => createWebhookHandler({ channelSecret: SECRET, now: 5 } as never), /now must be a function/);
});

test("secrets are cached for secretCacheMs on the injected clock, found and not found alike", async () => {
  let now = 1_000_000;
  const lookups: string[] = [];
  const cache = new SecretCache(resolveWebhookOptions({
    secretFor: (id) => (lookups.push(id), id === "1111111111" ? SECRET : null),
    secretCacheMs: 5_000,
    now: () => now,
  }));
  assert.equal(cache.lookup("1111111111"), SECRET);
  assert.equal(cache.lookup("9999999999"), null);
  now += 4_999;
  assert.equal(cache.lookup("1111111111"), SECRET);
  assert.equal(cache.lookup("9999999999"), null);
  assert.deepEqual(lookups, ["1111111111", "9999999999"], "still cached 1 ms before the end");
  now += 1;
  cache.lookup("1111111111");
  cache.lookup("9999999999");
  assert.deepEqual(lookups, ["1111111111", "9999999999", "1111111111", "9999999999"], "looked up again once secretCacheMs has passed");
});

test("the handler's secret cache follows its now option, not the wall clock", async () => {
  let now = 0;
  let lookups = 0;
  const handler = createWebhookHandler({ secretFor: () => (lookups++, SECRET), secretCacheMs: 60_000, now: () => now, onEvent: () => {}, logger: memoryLogger() });
  const send = async () => (await handler(await signedRequest(SECRET, JSON.stringify({ destination: DESTINATION, events: [] }), { url: "http://kagiya.test/webhook/1111111111" }))).status;
  assert.equal(await send(), 200);
  assert.equal(await send(), 200);
  assert.equal(lookups, 1);
  now += 60_000;
  assert.equal(await send(), 200);
  assert.equal(lookups, 2);
});

test("the delivery queue refuses past maxPending and warns at most every 10 s on the injected clock", async () => {
  let now = 50_000;
  const logger = memoryLogger();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const handled: string[] = [];
  const queue = new DeliveryQueue(resolveWebhookOptions({
    channelSecret: SECRET,
    maxPending: 2,
    concurrency: 1,
    now: () => now,
    logger,
    onEvent: async (e) => {
      handled.push((e as { message: { text: string } }).message.text);
      await gate;
    },
  }));
  const delivery = (text: string) => ({ channelId: "default", destination: DESTINATION, events: [textEvent(text)] });
  assert.equal(queue.offer(delivery("a")), true);
  assert.equal(queue.offer(delivery("b")), true);
  assert.equal(queue.pending, 2);
  const warnings = () => logger.lines.filter((l) => l.level === "warn" && l.message.includes("too many waiting")).length;
  assert.equal(queue.offer(delivery("c")), false);
  now += 9_999;
  assert.equal(queue.offer(delivery("d")), false);
  assert.equal(warnings(), 1);
  now += 1;
  assert.equal(queue.offer(delivery("e")), false);
  assert.equal(warnings(), 2);
  release();
  await queue.drain();
  assert.deepEqual(handled, ["a", "b"]);
  assert.equal(queue.pending, 0);
});

/** A shared store that records which batch (synchronous burst of calls) each mark came in. */
function burstStore(answer: (key: string) => Promise<boolean>) {
  const calls: Array<{ key: string; burst: number }> = [];
  let burst = 0;
  let open = false;
  return {
    calls,
    markOnce(key: string, ttlMs: number): Promise<boolean> {
      assert.equal(ttlMs, 60_000);
      if (!open) {
        open = true;
        burst++;
        queueMicrotask(() => (open = false));
      }
      calls.push({ key, burst });
      return answer(key);
    },
  };
}

test("marks of deliveries offered together go to the store in one batch; each gets its own results, a failure as an error", async () => {
  const store = burstStore(async (key) => {
    if (key === "bad") throw new Error("store down");
    return key !== "dup";
  });
  const marks = new MarkBatcher(store, 60_000);
  const one = new Promise<MarkResult[]>((r) => marks.mark(["a", "dup"], r));
  const two = new Promise<MarkResult[]>((r) => marks.mark(["bad", "b"], r));
  const [r1, r2] = await Promise.all([one, two]);
  assert.deepEqual(store.calls, [{ key: "a", burst: 1 }, { key: "dup", burst: 1 }, { key: "bad", burst: 1 }, { key: "b", burst: 1 }]);
  assert.deepEqual(r1, [true, false]);
  assert.equal(r2[1], true);
  assert.equal(((r2[0] as { error: Error }).error).message, "store down");
});

test("while a batch of marks is in flight the next ones gather into one batch, sent without waiting for its answer", async () => {
  const answers = new Map<string, () => void>();
  const store = burstStore((key) => new Promise<boolean>((resolve) => answers.set(key, () => resolve(true))));
  // A clock that stands still: the spacing is never over by the clock, only by the batcher's timer.
  const marks = new MarkBatcher(store, 60_000, { spacingMs: 10, now: () => 0 });
  const first = new Promise<MarkResult[]>((r) => marks.mark(["a"], r));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(store.calls, [{ key: "a", burst: 1 }]);
  const later = Promise.all(["b", "c"].map((k) => new Promise<MarkResult[]>((r) => marks.mark([k], r))));
  for (let i = 0; i < 1000 && store.calls.length < 3; i++) await new Promise((r) => setTimeout(r, 2));
  assert.deepEqual(store.calls, [{ key: "a", burst: 1 }, { key: "b", burst: 2 }, { key: "c", burst: 2 }], "b and c in one batch, while a is unanswered");
  answers.get("b")!();
  answers.get("c")!();
  assert.deepEqual(await later, [[true], [true]]);
  answers.get("a")!();
  assert.deepEqual(await first, [true]);
});

test("a store with markMany gets one markMany call per batch and no markOnce; a failed batch fails each of its marks", async () => {
  const store = new MemoryStore();
  const batches: string[][] = [];
  let failing = false;
  const spy = {
    markOnce: (): Promise<boolean> => assert.fail("markOnce called although the store has markMany"),
    markMany(keys: readonly string[], ttlMs: number): Promise<boolean[]> {
      assert.equal(ttlMs, 60_000);
      batches.push([...keys]);
      return failing ? Promise.reject(new Error("store down")) : store.markMany(keys, ttlMs);
    },
  };
  await store.markOnce("seen", 60_000);
  const marks = new MarkBatcher(spy, 60_000);
  const results = await Promise.all([["a", "seen"], ["b", "a"], ["c"]].map((keys) => new Promise<MarkResult[]>((r) => marks.mark(keys, r))));
  assert.deepEqual(batches, [["a", "seen", "b", "a", "c"]]);
  assert.deepEqual(results, [[true, false], [true, false], [true]], "split per delivery; a key repeated across deliveries is a duplicate");
  failing = true;
  const failed = await new Promise<MarkResult[]>((r) => marks.mark(["d", "e"], r));
  assert.deepEqual(batches.at(-1), ["d", "e"]);
  assert.deepEqual(failed.map((f) => (f as { error: Error }).error.message), ["store down", "store down"]);
  assert.equal(await store.isMarked("d"), false);
});
