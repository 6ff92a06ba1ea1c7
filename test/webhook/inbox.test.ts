// The intake with a durable inbox, in-process over real HTTP from the emulator: events are in the
// store when the 200 arrives, redeliveries to two instances on one SQLite file are handled once
// and in order, an instance whose handler hangs loses the event to another only once its lease has
// run out (on the injected clock), and a store that cannot be written answers 503.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNodeWebhookListener } from "../../src/webhook/adapters/node.ts";
import { resolveWebhookOptions } from "../../src/webhook/options.ts";
import { WebhookConfigError } from "../../src/webhook/errors.ts";
import { MemoryDedup } from "../../src/webhook/dedup.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import { deliverTestWebhook } from "../helpers/emulator.ts";
import { listen, startStack, type Stack } from "./emulator-setup.ts";
import { memoryLogger } from "./fixtures.ts";

let stack: Stack;
let dir: string;
let n = 0;
before(async () => {
  stack = await startStack();
  dir = mkdtempSync(join(tmpdir(), "kagiya-webhook-inbox-"));
});
after(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

async function openTwo(): Promise<[SqliteStore, SqliteStore]> {
  const path = join(dir, `inbox-${++n}.db`);
  const a = new SqliteStore({ path });
  await a.migrate();
  const b = new SqliteStore({ path });
  await b.migrate();
  return [a, b];
}

test("with an inbox: the events are in the store when the 200 arrives; redeliveries to two instances are handled once, in order", async () => {
  const [storeA, storeB] = await openTwo();
  const ch = await stack.channel();
  const calls: string[] = [];
  const make = (store: SqliteStore, name: string) =>
    createNodeWebhookListener({ secretFor: (id) => stack.secretFor(id), inbox: store, onEvent: (e, info) => void calls.push(`${name}:${info.channelId}:${e.type}:${e.webhookEventId}`), logger: memoryLogger() });
  const a = make(storeA, "a");
  const b = make(storeB, "b");
  const [sa, sb] = [await listen(a), await listen(b)];
  try {
    const events = [{ type: "follow" }, { type: "unfollow" }, { type: "join" }];
    const first = await deliverTestWebhook(stack.emu.url, { channelId: ch.channelId, url: `${sa.url}/webhook/${ch.channelId}`, events });
    assert.equal(first.status, 200);
    const ids = first.webhookEventIds;
    // Already written: the same keys are refused as duplicates by the store itself.
    for (const id of ids) assert.equal(await storeB.acceptEvent(`webhook:${ch.channelId}:${id}`, "{}", 60_000, Date.now()), false);
    const again = (url: string) => deliverTestWebhook(stack.emu.url, { channelId: ch.channelId, url: `${url}/webhook/${ch.channelId}`, events: events.map((e, i) => ({ ...e, webhookEventId: ids[i] })), redelivery: true });
    const answers = await Promise.all([again(sa.url), again(sb.url), again(sb.url)]);
    assert.deepEqual(answers.map((r) => r.status), [200, 200, 200]);
    await Promise.all([a.drain(), b.drain()]);
    assert.deepEqual(calls.map((c) => c.split(":").slice(1).join(":")), events.map((e, i) => `${ch.channelId}:${e.type}:${ids[i]}`));
  } finally {
    await Promise.all([sa.close(), sb.close(), a.close(), b.close()]);
    await storeA.close();
    await storeB.close();
  }
});

test("with an inbox: a hung handler keeps its event until the lease runs out on the clock; then another instance handles it", async () => {
  const [storeA, storeB] = await openTwo();
  const ch = await stack.channel();
  let now = Date.now();
  const clock = () => now;
  const calls: string[] = [];
  const logA = memoryLogger();
  let unblock!: () => void;
  const hung = new Promise<void>((r) => (unblock = r));
  const a = createNodeWebhookListener({ secretFor: (id) => stack.secretFor(id), inbox: storeA, inboxLeaseMs: 60_000, now: clock, logger: logA, onEvent: (e) => (calls.push(`a:${e.webhookEventId}`), hung) });
  const b = createNodeWebhookListener({ secretFor: (id) => stack.secretFor(id), inbox: storeB, inboxLeaseMs: 60_000, now: clock, logger: memoryLogger(), onEvent: (e) => void calls.push(`b:${e.webhookEventId}`) });
  const sa = await listen(a);
  try {
    const r = await deliverTestWebhook(stack.emu.url, { channelId: ch.channelId, url: `${sa.url}/webhook/${ch.channelId}`, events: [{ type: "follow" }] });
    assert.equal(r.status, 200);
    const id = r.webhookEventIds[0]!;
    while (calls.length === 0) await new Promise((res) => setTimeout(res, 5));
    assert.deepEqual(calls, [`a:${id}`]);
    await b.drain();
    assert.deepEqual(calls, [`a:${id}`], "leased to a: b does not touch it");
    now += 60_001;
    await b.drain();
    assert.deepEqual(calls, [`a:${id}`, `b:${id}`], "the lease ran out: b handles it");
    unblock();
    await a.drain();
    assert.ok(logA.lines.some((l) => l.message.includes("lease had passed to another instance")), "a learns it lost the event");
  } finally {
    unblock();
    await Promise.all([sa.close(), a.close(), b.close()]);
    await storeA.close();
    await storeB.close();
  }
});

test("with an inbox: a store that cannot be written answers 503 ERR_WEBHOOK_UNAVAILABLE (LINE redelivers); inbox and dedup are exclusive", async () => {
  const [store, other] = await openTwo();
  await other.close();
  const ch = await stack.channel();
  const log = memoryLogger();
  const a = createNodeWebhookListener({ secretFor: (id) => stack.secretFor(id), inbox: store, onEvent: () => undefined, logger: log });
  const sa = await listen(a);
  try {
    await store.close();
    const r = await deliverTestWebhook(stack.emu.url, { channelId: ch.channelId, url: `${sa.url}/webhook/${ch.channelId}`, events: [{ type: "follow" }] });
    assert.equal(r.status, 503);
    assert.match(JSON.stringify(log.lines), /could not be written to the inbox/);
  } finally {
    await Promise.all([sa.close(), a.close()]);
  }
  assert.throws(() => resolveWebhookOptions({ channelSecret: "s", inbox: store, dedup: new MemoryDedup() }), WebhookConfigError);
  assert.throws(() => resolveWebhookOptions({ channelSecret: "s", inbox: {} as never }), WebhookConfigError);
});
