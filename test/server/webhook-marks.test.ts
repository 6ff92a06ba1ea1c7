// kagiya serve with `--inbox memory` marks each delivery's events in the store to de-duplicate them
// across instances: the route hands the intake the store's markMany, so concurrent deliveries'
// marks reach the store as batches, never one markOnce per event.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryStore } from "../../src/store/memory.ts";
import { deliverTestWebhook, sentMessages } from "../helpers/emulator.ts";
import { startTestBroker } from "./helpers.ts";
import { countingStore } from "./scale-fixture.ts";

test("serve --inbox memory: the duplicate marks of concurrent deliveries go to the store's markMany; each event handled once", async () => {
  const counted = countingStore(new MemoryStore());
  const t = await startTestBroker({ store: counted.store, server: { inbox: "memory" } });
  try {
    const [ch] = t.channels;
    const deliveries = await Promise.all(Array.from({ length: 12 }, (_, i) => deliverTestWebhook(t.emu.url, {
      channelId: ch!.channelId, url: `${t.url}/webhook/${ch!.channelId}`,
      events: [{ type: "message", message: { type: "text", id: String(i), text: `hello ${i}` } }],
    })));
    for (const d of deliveries) assert.equal(d.status, 200);
    await t.broker.drainWebhooks();
    assert.ok((counted.calls.get("markMany") ?? 0) >= 1, `markMany calls: ${counted.calls.get("markMany")}`);
    assert.equal(counted.calls.get("markOnce") ?? 0, 0, "no per-event markOnce");
    const replies = new Set((await sentMessages(t.emu.url, ch!.channelId)).map((m) => m.replyToken));
    for (const d of deliveries) assert.ok(replies.has(d.replyTokens[0]), "every event answered");
  } finally {
    await t.close();
  }
});
