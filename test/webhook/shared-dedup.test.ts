// Two intake instances, each with its own connection to one Redis or PostgreSQL store (as two
// `kagiya serve` processes would have): a delivery and its redeliveries, sent to both at once,
// are handled once.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { createNodeWebhookListener } from "../../src/webhook/adapters/node.ts";
import { RedisStore } from "../../src/store/redis/store.ts";
import { PostgresStore } from "../../src/store/postgres/store.ts";
import type { Store } from "../../src/store/types.ts";
import { deliverTestWebhook } from "../helpers/emulator.ts";
import { DATABASE_URL, REDIS_URL, postgresSkip, randomNamespace, redisSkip } from "../store/services.ts";
import { listen, startStack, type Stack } from "./emulator-setup.ts";
import { memoryLogger } from "./fixtures.ts";

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(() => stack.close());

async function twoInstancesHandleOnce(open: () => Promise<Store>): Promise<void> {
  const [storeA, storeB] = [await open(), await open()];
  const ch = await stack.channel();
  const calls: string[] = [];
  const make = (store: Store, name: string) =>
    createNodeWebhookListener({ secretFor: (id) => stack.secretFor(id), dedup: store, onEvent: (e) => void calls.push(`${name}:${e.webhookEventId}`), logger: memoryLogger() });
  const a = make(storeA, "a");
  const b = make(storeB, "b");
  const [sa, sb] = [await listen(a), await listen(b)];
  try {
    const first = await deliverTestWebhook(stack.emu.url, { channelId: ch.channelId, url: `${sa.url}/webhook/${ch.channelId}`, events: [{ type: "follow" }, { type: "unfollow" }] });
    const ids = first.webhookEventIds;
    const again = (url: string) => deliverTestWebhook(stack.emu.url, { channelId: ch.channelId, url: `${url}/webhook/${ch.channelId}`, events: [{ type: "follow", webhookEventId: ids[0] }, { type: "unfollow", webhookEventId: ids[1] }], redelivery: true });
    const answers = await Promise.all([again(sa.url), again(sb.url), again(sb.url), again(sa.url)]);
    assert.deepEqual(answers.map((r) => r.status), [200, 200, 200, 200]);
    await Promise.all([a.drain(), b.drain()]);
    assert.deepEqual(calls.map((c) => c.split(":")[1]).sort(), [...ids].sort(), JSON.stringify(calls));
  } finally {
    await sa.close();
    await sb.close();
    await storeA.close();
    await storeB.close();
  }
}

describe("shared de-duplication across instances", async () => {
  const redisSkipped = await redisSkip();
  const pgSkipped = await postgresSkip();

  test("on Redis", { skip: redisSkipped }, async () => {
    const prefix = `${randomNamespace("webhook")}:`;
    try {
      await twoInstancesHandleOnce(async () => {
        const s = await RedisStore.connect({ url: REDIS_URL, prefix });
        await s.migrate();
        return s;
      });
    } finally {
      const cleanup = await RedisStore.connect({ url: REDIS_URL, prefix });
      await cleanup.destroy();
      await cleanup.close();
    }
  });

  test("on PostgreSQL", { skip: pgSkipped }, async () => {
    const schema = randomNamespace("webhook");
    try {
      await twoInstancesHandleOnce(async () => {
        const s = await PostgresStore.connect({ url: DATABASE_URL, schema, poolSize: 2 });
        await s.migrate();
        return s;
      });
    } finally {
      const cleanup = await PostgresStore.connect({ url: DATABASE_URL, schema, poolSize: 1 });
      await cleanup.destroy();
      await cleanup.close();
    }
  });
});
