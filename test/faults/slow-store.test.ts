// A store that answers slowly: Redis and PostgreSQL behind a proxy that holds every byte until
// the test releases it (seconds, as far as kagiya can tell). Reads the TokenManager answers from
// memory do not wait for it and do not ask it anything; past the cache's 5 s re-check the manager
// itself still answers from memory while one re-check is under way (held); past its 60 s stale
// window, the server's ServeWhileRefreshing answers with the known token while one store read is
// under way. Shown by
// ordering (the held store call is still pending when every read has answered) and by counting
// store calls, never by timing; the latencies are in bench/slow-store.bench.ts.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { ServeWhileRefreshing } from "../../src/server/serve-while-refreshing.ts";
import { openStore } from "../../src/store/open.ts";
import { DATABASE_URL, postgresSkip, randomNamespace, REDIS_URL, redisSkip } from "../store/services.ts";
import { tokenWorld } from "../tokens/setup.ts";
import { countingStore } from "./counting.ts";
import { startSlowProxy, type SlowProxy } from "./slow-proxy.ts";

const proxies: SlowProxy[] = [];
after(async () => {
  for (const p of proxies) await p.close();
});

const BACKENDS = [
  { name: "Redis", skip: await redisSkip(), url: new URL(REDIS_URL), spec: (port: number, base: URL) => `redis://${base.username || base.password ? `${base.username}:${base.password}@` : ""}127.0.0.1:${port}${base.pathname}?prefix=${randomNamespace("slow")}:` },
  { name: "PostgreSQL", skip: await postgresSkip(), url: new URL(DATABASE_URL), spec: (port: number, base: URL) => `postgres://${base.username}${base.password ? `:${base.password}` : ""}@127.0.0.1:${port}${base.pathname}?schema=${randomNamespace("slow")}` },
];

for (const b of BACKENDS) describe(`${b.name} answering slowly`, { skip: b.skip }, () => {
  test("get() from memory answers while the store is held and asks it nothing; past the re-check too, while the re-check is held; past the stale window, ServeWhileRefreshing serves the known token during one store read", async () => {
    const proxy = await startSlowProxy(Number(b.url.port || (b.name === "Redis" ? 6379 : 5432)), b.url.hostname);
    proxies.push(proxy);
    const real = await openStore(b.spec(proxy.port, b.url));
    const { store, calls: total } = countingStore(real);
    const w = await tokenWorld({ store });
    const id = w.channel.channelId;
    const m = w.manager();
    const reads = new ServeWhileRefreshing(m, { now: w.clock.now });
    const token = await reads.get(id);
    try {
      // The store stops answering; a call to it is left waiting.
      proxy.hold();
      let storeAnswered = false;
      const pending = real.ping().then(() => (storeAnswered = true));
      const calls = total();
      const requests = proxy.requests;
      for (let i = 0; i < 1000; i++) assert.equal((await m.get(id)).keyId, token.keyId);
      for (let i = 0; i < 1000; i++) assert.equal((await reads.get(id)).keyId, token.keyId);
      assert.equal(m.peek(id)?.keyId, token.keyId);
      assert.equal(storeAnswered, false, "every read answered before the store did");
      assert.equal(total() - calls, 0, "no store call for reads from memory");
      assert.ok(proxy.requests - requests <= 1, "nothing but the held ping went to the store");

      // Past the cache's 5 s re-check (before the refresh point): the manager answers from memory
      // at once while one re-check (held by the proxy) asks the store.
      await w.clock.advance(6);
      const beforeRecheck = total();
      for (let i = 0; i < 100; i++) assert.equal((await m.get(id)).keyId, token.keyId);
      for (let i = 0; i < 100; i++) assert.equal((await reads.get(id)).keyId, token.keyId);
      assert.equal(m.peek(id)?.keyId, token.keyId);
      assert.equal(storeAnswered, false, "answered while the store is held");
      // Re-checks start at the end of the event-loop turn they were asked in (gathered into one batch).
      await new Promise((r) => setImmediate(r));
      const rechecking = total() - beforeRecheck;
      assert.ok(rechecking >= 1 && rechecking <= 2, `one re-check for 201 reads, saw ${rechecking} store calls`);

      // Past the stale window (60 s more), the manager waits for the store; ServeWhileRefreshing
      // answers every read with the known token meanwhile, and the 100 reads share one store read.
      await w.clock.advance(61);
      const callsBefore = total();
      let managerAnswered = false;
      const direct = m.get(id).then((t) => ((managerAnswered = true), t));
      const served = await Promise.all(Array.from({ length: 100 }, () => reads.get(id)));
      assert.deepEqual([...new Set(served.map((t) => t.keyId))], [token.keyId]);
      assert.equal(storeAnswered, false);
      assert.equal(managerAnswered, false, "the manager itself waits for the store at its re-check");
      const during = total() - callsBefore;
      assert.ok(during >= 1 && during <= 3, `one flight of store calls for 101 reads, saw ${during}`);

      proxy.release();
      await pending;
      assert.equal((await direct).keyId, token.keyId);
      assert.equal((await m.get(id)).keyId, token.keyId);
    } finally {
      proxy.release();
      await (real as { destroy?: () => Promise<void> }).destroy?.();
    }
  });
});
