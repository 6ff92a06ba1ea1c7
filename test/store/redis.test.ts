import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StoreError } from "../../src/store/errors.ts";
import { openStore } from "../../src/store/open.ts";
import { REDIS_LAYOUT_VERSION, RedisStore } from "../../src/store/redis/store.ts";
import { runStoreContract, sharedStoreHarness } from "./contract.ts";
import { randomNamespace, REDIS_URL, redisSkip } from "./services.ts";

const skip = await redisSkip();

/** Every key under the prefix with its contents as Redis returns them (strings, hashes, sets, lists). */
async function dump(store: RedisStore): Promise<Buffer> {
  const c = store.client;
  const parts: string[] = [];
  const keys = await c.keys(`${store.prefix}*`);
  for (const key of keys) {
    parts.push(key);
    const type = await c.type(key);
    if (type === "string") parts.push((await c.get(key)) ?? "");
    else if (type === "hash") parts.push(...Object.entries(await c.hgetall(key)).flat());
    else if (type === "set") parts.push(...(await c.smembers(key)));
    else if (type === "list") parts.push(...(await c.lrange(key, 0, -1)));
    else parts.push(`<${type}>`);
  }
  return Buffer.from(parts.join("\n"));
}

runStoreContract(
  "redis",
  () => {
    const prefix = `${randomNamespace("redis")}:`;
    return sharedStoreHarness(() => RedisStore.connect({ url: REDIS_URL, prefix }), { rawBytes: dump, destroy: (s) => s.destroy() });
  },
  { skip },
);

describe("RedisStore specifics", { skip }, () => {
  it("records the key-layout version and refuses a newer one", async () => {
    const prefix = `${randomNamespace("redis")}:`;
    const store = await RedisStore.connect({ url: REDIS_URL, prefix });
    try {
      await store.migrate();
      assert.equal(await store.client.get(`${prefix}layout`), String(REDIS_LAYOUT_VERSION));
      await store.client.set(`${prefix}layout`, String(REDIS_LAYOUT_VERSION + 1));
      await assert.rejects(store.migrate(), (e: unknown) => e instanceof StoreError && e.code === "ERR_STORE_SCHEMA");
    } finally {
      await store.destroy();
      await store.close();
    }
  });

  it("scripts survive a flushed script cache (server restart): EVALSHA falls back to EVAL", async () => {
    const store = await RedisStore.connect({ url: REDIS_URL, prefix: `${randomNamespace("redis")}:` });
    try {
      const row = { channelId: "1", keyId: "k", accessToken: null, generation: 0, state: "valid" as const, issuedAt: 1, expiresAt: 2, refreshAt: 2, revokeAt: null, updatedAt: 1 };
      assert.equal(await store.commitToken("1", 0, row, 1), true);
      await store.client.script("FLUSH");
      assert.equal((await store.getCurrent("1")).generation, 1);
      assert.equal(await store.commitToken("1", 1, { ...row, keyId: "k2" }, 1), true);
      assert.equal((await store.getCurrent("1")).token?.keyId, "k2");
    } finally {
      await store.destroy();
      await store.close();
    }
  });

  it("every key it writes is under its prefix", async () => {
    const prefix = `${randomNamespace("redis")}:`;
    const store = await openStore(`${REDIS_URL}?prefix=${encodeURIComponent(prefix)}`, {});
    try {
      await store.setMeta("x", "y");
      await store.putChannel({ channelId: "1", kid: "k", privateKey: "p", channelSecret: "s", policy: {}, kind: "line-v2.1", settings: {}, secrets: {}, createdAt: 1, updatedAt: 1 });
      await store.markOnce("e", 60_000);
      const lock = await store.tryLock("l", 60_000);
      assert.ok(lock);
      assert.ok((await (store as RedisStore).client.keys(`${prefix}*`)).length >= 5);
      await lock.release();
    } finally {
      await (store as RedisStore).destroy();
      await store.close();
    }
  });
});

describe("RedisStore unreachable", () => {
  it("a closed port fails fast with ERR_STORE_UNAVAILABLE, without the password", async () => {
    for (const spec of ["redis://:hunter2@127.0.0.1:1", "rediss://127.0.0.1:1"]) {
      await assert.rejects(openStore(spec, {}), (e: unknown) =>
        e instanceof StoreError && e.code === "ERR_STORE_UNAVAILABLE" && /Redis/.test(e.message) && e.message.includes("127.0.0.1:1") && !e.message.includes("hunter2"));
    }
  });

  it("a store whose server goes away fails typed, not hanging", { skip }, async () => {
    const store = await RedisStore.connect({ url: REDIS_URL, prefix: `${randomNamespace("redis")}:` });
    store.client.disconnect();
    await assert.rejects(store.getCurrent("1"), (e: unknown) => e instanceof StoreError && e.code === "ERR_STORE_UNAVAILABLE");
    await store.close();
  });
});
