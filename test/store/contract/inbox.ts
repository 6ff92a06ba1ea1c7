// Store contract, the webhook inbox: accept once, claim under a lease (never two owners at once),
// finish, extend, release, prune after the window. Times are the caller's (`now`), so no sleeps.
import assert from "node:assert/strict";
import { it } from "node:test";
import type { InboxStore } from "../../../src/store/types.ts";
import { roleSuite, T0, type Closable, type StoreFactory, type SuiteOptions } from "./harness.ts";

const DAY = 86_400_000;

export function runInboxContract(name: string, factory: StoreFactory<InboxStore & Closable>, options: SuiteOptions = {}): void {
  roleSuite("inbox", name, factory, options, (use) => {
    it("acceptEvent: true once per key (unfinished or within the window), the payload comes back as given, oldest first", use(async ({ store }) => {
      assert.equal(await store.acceptEvent("e1", '{"n":1,"text":"こんにちは"}', DAY, T0), true);
      assert.equal(await store.acceptEvent("e1", '{"n":"other"}', DAY, T0 + 1), false);
      assert.equal(await store.acceptEvent("e2", "two", DAY, T0 + 2), true);
      assert.deepEqual(await Promise.all(["e3", "e1", "e4", "e3"].map((k) => store.acceptEvent(k, k, DAY, T0 + 3))), [true, false, true, false]);
      const got = await store.claimEvents("a", 60_000, 10, T0 + 10);
      assert.deepEqual(got.map((e) => [e.key, e.payload, e.attempts, e.acceptedAt]), [
        ["e1", '{"n":1,"text":"こんにちは"}', 1, T0],
        ["e2", "two", 1, T0 + 2],
        ["e3", "e3", 1, T0 + 3],
        ["e4", "e4", 1, T0 + 3],
      ]);
    }));

    it("claimEvents: a leased event is not claimed again until its lease runs out; limit is honoured; finish ends it for good", use(async ({ store }) => {
      for (let i = 0; i < 5; i++) assert.equal(await store.acceptEvent(`k${i}`, `p${i}`, DAY, T0 + i), true);
      const a = await store.claimEvents("a", 1_000, 2, T0 + 10);
      assert.deepEqual(a.map((e) => e.key), ["k0", "k1"]);
      const b = await store.claimEvents("b", 1_000, 10, T0 + 20);
      assert.deepEqual(b.map((e) => e.key), ["k2", "k3", "k4"]);
      assert.deepEqual(await store.claimEvents("c", 1_000, 10, T0 + 30), [], "every event is leased");
      assert.equal(await store.finishEvent("k0", "b", T0 + 40), false, "not b's");
      assert.equal(await store.finishEvent("k0", "a", T0 + 40), true);
      assert.equal(await store.finishEvent("k0", "a", T0 + 41), false, "already finished");
      assert.equal(await store.extendEvent("k1", "a", 5_000, T0 + 500), true);
      assert.equal(await store.extendEvent("k1", "c", 5_000, T0 + 500), false);
      // a's k1 was extended; b's leases ran out at T0 + 1020
      const c = await store.claimEvents("c", 1_000, 10, T0 + 1_100);
      assert.deepEqual(c.map((e) => [e.key, e.attempts]), [["k2", 2], ["k3", 2], ["k4", 2]]);
      assert.equal(await store.finishEvent("k2", "b", T0 + 1_200), false, "b lost k2 to c");
      assert.equal(await store.extendEvent("k3", "b", 1_000, T0 + 1_200), false);
      assert.equal(await store.releaseEvent("k3", "b"), false);
      assert.equal(await store.releaseEvent("k3", "c"), true);
      assert.deepEqual((await store.claimEvents("d", 1_000, 10, T0 + 1_300)).map((e) => [e.key, e.attempts]), [["k3", 3]], "released: claimable at once");
      const after = await store.claimEvents("e", 1_000, 10, T0 + 5_600);
      assert.deepEqual(after.map((e) => e.key), ["k1", "k2", "k3", "k4"], "k0 finished stays out");
      assert.equal(await store.finishEvent("k1", "e", T0 + 5_700), true);
    }));

    it("claimEvents from many instances at once: every event leased to exactly one owner", use(async ({ store, other }) => {
      const stores = [store, store];
      const extra = other ? await other() : null;
      if (extra) stores.push(extra, extra);
      await Promise.all(Array.from({ length: 60 }, (_, i) => store.acceptEvent(`r${String(i).padStart(2, "0")}`, "x", DAY, T0)));
      const claims = await Promise.all(stores.flatMap((s, i) => [0, 1, 2].map((j) => s.claimEvents(`o${i}-${j}`, 60_000, 7, T0 + 1))));
      const rest = await store.claimEvents("last", 60_000, 100, T0 + 2);
      const keys = [...claims.flat(), ...rest].map((e) => e.key).sort();
      assert.deepEqual(keys, Array.from({ length: 60 }, (_, i) => `r${String(i).padStart(2, "0")}`));
      if (extra) await extra.close();
    }));

    it("acceptEvent with a lease: written already claimed by its owner (attempt 1), claimable by others only after the lease", use(async ({ store }) => {
      assert.equal(await store.acceptEvent("own", "mine", DAY, T0, { owner: "a", leaseMs: 1_000 }), true);
      assert.equal(await store.acceptEvent("own", "again", DAY, T0 + 1, { owner: "b", leaseMs: 1_000 }), false);
      assert.equal(await store.acceptEvent("free", "free", DAY, T0 + 2), true);
      assert.deepEqual((await store.claimEvents("b", 60_000, 10, T0 + 10)).map((e) => e.key), ["free"]);
      assert.equal(await store.extendEvent("own", "a", 1_000, T0 + 500), true);
      assert.deepEqual(await store.claimEvents("c", 1_000, 10, T0 + 1_400), [], "a extended its lease to T0 + 1500");
      const taken = await store.claimEvents("c", 1_000, 10, T0 + 1_600);
      assert.deepEqual(taken.map((e) => [e.key, e.payload, e.attempts]), [["own", "mine", 2]]);
      assert.equal(await store.finishEvent("own", "a", T0 + 1_700), false, "a lost it to c");
      assert.equal(await store.finishEvent("own", "c", T0 + 1_700), true);
    }));

    it("pruneEvents drops finished events past their window, never unfinished ones; the key is then accepted anew", use(async ({ store }) => {
      await store.acceptEvent("done", "1", 1_000, T0);
      await store.acceptEvent("open", "2", 1_000, T0);
      const [d] = await store.claimEvents("a", 60_000, 1, T0);
      assert.equal(d!.key, "done");
      assert.equal(await store.finishEvent("done", "a", T0 + 10), true);
      assert.equal(await store.acceptEvent("done", "again", 1_000, T0 + 999), false, "within the window");
      assert.equal(await store.pruneEvents(T0 + 999), 0);
      assert.equal(await store.pruneEvents(T0 + 1_000), 1);
      assert.equal(await store.acceptEvent("open", "again", 1_000, T0 + 5_000), false, "unfinished: never forgotten");
      assert.equal(await store.acceptEvent("done", "again", 1_000, T0 + 5_000), true);
      const got = await store.claimEvents("b", 60_000, 10, T0 + 5_001);
      assert.deepEqual(got.map((e) => [e.key, e.payload, e.attempts]), [["open", "2", 1], ["done", "again", 1]]);
      // A finished event past its window is also accepted anew before any prune.
      await store.finishEvent("done", "b", T0 + 5_002);
      assert.equal(await store.acceptEvent("done", "third", 1_000, T0 + 6_001), true);
    }));
  });
}
