// Due re-checks of many credentials at once (issue 16): coalesced into bulk reads, with the same
// answers as one read per credential: a removal or change made elsewhere is seen, an unchanged
// credential's row is not read again. Past the check, memory keeps answering while the re-check
// runs in the background (issue 15); past the stale window, get() waits for it.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MemoryStore } from "../../src/store/memory.ts";
import type { Store } from "../../src/store/types.ts";
import { allBackends } from "./backends.ts";
import { recheckWatch, tokenWorld } from "./setup.ts";

// Known before any test is registered: a top-level await after the first one would let the file's
// after() hooks (the shared emulator's close) run early.
const backends = await allBackends();

/** The memory store, counting calls by method name. */
function counted(): { store: Store; calls: Map<string, number> } {
  const target = new MemoryStore();
  const calls = new Map<string, number>();
  const store = new Proxy(target, {
    get(t, name, receiver) {
      const v = Reflect.get(t, name, receiver) as unknown;
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        calls.set(String(name), (calls.get(String(name)) ?? 0) + 1);
        return (v as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
  return { store, calls };
}

/** Six credentials on the counted memory store, read once, then the clock past their check. */
async function sixPastTheCheck() {
  const { store, calls } = counted();
  const w = await tokenWorld({ store });
  const ids = [w.channel.channelId];
  for (let i = 0; i < 5; i++) ids.push((await w.addChannel()).channelId);
  const watch = recheckWatch();
  const m = w.manager({ observer: watch.observer });
  const first = await Promise.all(ids.map((id) => m.get(id)));
  await w.clock.advance(6);
  return { w, calls, ids, watch, m, first };
}

describe("memory, counted", () => test("due re-checks of many credentials at once read versions and current tokens in one batch each, rows only when changed", async () => {
  const { w, calls, ids, watch, m, first } = await sixPastTheCheck();
  // Another process changes one credential's policy meanwhile.
  await w.registry.setPolicy(ids[1]!, { maxLiveTokens: 3 });
  calls.clear();
  const again = await Promise.all(ids.map((id) => m.get(id)));
  await watch.settled(6);
  assert.deepEqual(again.map((t) => t.keyId), first.map((t) => t.keyId), "the stored tokens, not new ones");
  assert.equal(calls.get("getChannelVersions"), 1, "one version read for all six");
  assert.equal(calls.get("getChannel"), 1, "only the changed row is read again");
  assert.equal(calls.get("getCurrent"), 6);
  assert.equal(calls.get("commitToken"), undefined);
}));

describe("memory, counted", () => test("background re-checks started by separate callbacks of one event-loop turn (as requests read from separate sockets) go to the store as one batch", async () => {
  const { calls, ids, watch, m, first } = await sixPastTheCheck();
  calls.clear();
  // Each callback's microtasks run before the next callback: a batch per tick would be one per ID.
  const peeked = await Promise.all(ids.map((id) => new Promise((resolve) => setImmediate(() => resolve(m.peek(id)?.keyId)))));
  await watch.settled(6);
  assert.deepEqual(peeked, first.map((t) => t.keyId), "answered from memory meanwhile");
  assert.equal(calls.get("getChannelVersions"), 1, "one version read for all six");
  assert.equal(calls.get("getCurrent"), 6);
}));

for (const backend of backends) describe(backend.name, { skip: backend.skip }, () => {
  for (const { label, options, after } of [
    { label: "with cacheStaleMs 0, at the check", options: { cacheStaleMs: 0 }, after: 6 },
    { label: "past the check and the 60 s stale window", options: {}, after: 66 },
  ]) test(`${label}: a batched re-check that get() waits for sees a credential removed and a token replaced by another process`, async () => {
    const w = await tokenWorld({ backend });
    const ids = [w.channel.channelId, (await w.addChannel()).channelId, (await w.addChannel()).channelId];
    const m = w.manager(options);
    const first = await Promise.all(ids.map((id) => m.get(id)));
    // Another process: removes the second credential and issues a new token for the third.
    const other = await w.reopen();
    assert.equal(await other.registry.remove(ids[1]!), true);
    const replaced = await w.manager({ registry: other.registry }).issue(ids[2]!, { actor: "test" });
    assert.notEqual(replaced.keyId, first[2]!.keyId);
    // Within the check interval memory answers; after it, the re-check sees both changes.
    assert.equal((await m.get(ids[2]!)).keyId, first[2]!.keyId);
    await w.clock.advance(after);
    const [a, b, c] = await Promise.allSettled(ids.map((id) => m.get(id)));
    assert.equal(a.status === "fulfilled" && a.value.keyId, first[0]!.keyId);
    assert.equal(b.status, "rejected");
    assert.equal((b as PromiseRejectedResult).reason.code, "ERR_CHANNEL_NOT_FOUND");
    assert.equal(c.status === "fulfilled" && c.value.keyId, replaced.keyId);
  });

  test("past the check, memory answers at once while one background re-check per credential runs; the get()s after it see a removal, a replacement and a revocation by another process", async () => {
    const w = await tokenWorld({ backend });
    const ids = [w.channel.channelId];
    for (let i = 0; i < 3; i++) ids.push((await w.addChannel()).channelId);
    const watch = recheckWatch();
    const m = w.manager({ observer: watch.observer });
    const first = await Promise.all(ids.map((id) => m.get(id)));
    // Another process: removes the second credential, issues a new token for the third, revokes the fourth's.
    const other = await w.reopen();
    const elsewhere = w.manager({ registry: other.registry });
    assert.equal(await other.registry.remove(ids[1]!), true);
    const replaced = await elsewhere.issue(ids[2]!, { actor: "test" });
    await elsewhere.revoke(ids[3]!, "all", { actor: "test" });
    await w.clock.advance(6);
    // Every get() and peek() answers from memory at once; each credential's get()s share one re-check.
    assert.equal(m.peek(ids[1]!)?.keyId, first[1]!.keyId);
    const during = await Promise.all(ids.flatMap((id) => [m.get(id), m.get(id)]));
    assert.deepEqual(during.map((t) => t.keyId), first.flatMap((t) => [t.keyId, t.keyId]));
    await watch.settled(ids.length);
    assert.equal(watch.ended, ids.length, "one re-check per credential");
    const [a, b, c, d] = await Promise.allSettled(ids.map((id) => m.get(id)));
    assert.equal(a.status === "fulfilled" && a.value.keyId, first[0]!.keyId);
    assert.equal(b.status, "rejected");
    assert.equal((b as PromiseRejectedResult).reason.code, "ERR_CHANNEL_NOT_FOUND");
    assert.equal(c.status === "fulfilled" && c.value.keyId, replaced.keyId);
    assert.equal(d.status, "fulfilled");
    const renewed = (d as PromiseFulfilledResult<{ keyId: string }>).value.keyId;
    assert.ok(renewed !== first[3]!.keyId, "the revoked token is not served again: a new one was issued");
    assert.equal(m.peek(ids[1]!), undefined);
  });

  test("a token invalidated while its background re-check runs is not taken back into memory by that re-check", async () => {
    const w = await tokenWorld({ backend });
    const id = w.channel.channelId;
    const watch = recheckWatch();
    const m = w.manager({ observer: watch.observer });
    const t = await m.get(id);
    await w.clock.advance(6);
    assert.equal((await m.get(id)).keyId, t.keyId, "from memory; the re-check is under way");
    const invalidated = m.invalidate(id, t.keyId);
    await watch.settled(1);
    await invalidated;
    assert.equal(m.peek(id), undefined);
    assert.notEqual((await m.get(id)).keyId, t.keyId);
  });
});
