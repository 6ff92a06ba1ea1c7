// Store contract, once-marks.
import assert from "node:assert/strict";
import { it } from "node:test";
import type { OnceMarkStore } from "../../../src/store/types.ts";
import { eventually, roleSuite, type Closable, type StoreFactory, type SuiteOptions } from "./harness.ts";

export function runOnceMarkContract(name: string, factory: StoreFactory<OnceMarkStore & Closable>, options: SuiteOptions = {}): void {
  roleSuite("once-marks", name, factory, options, (use) => {
    it("markOnce: true once, false while remembered, true again after the TTL; isMarked reads without marking", use(async ({ store, other }) => {
      assert.equal(await store.isMarked("evt-1"), false);
      assert.equal(await store.isMarked("evt-1"), false);
      assert.equal(await store.markOnce("evt-1", 60_000), true);
      assert.equal(await store.isMarked("evt-1"), true);
      assert.equal(await store.markOnce("evt-1", 60_000), false);
      if (other) {
        const s2 = await other();
        assert.equal(await s2.isMarked("evt-1"), true);
        assert.equal(await s2.markOnce("evt-1", 60_000), false);
        await s2.close();
      }
      assert.equal(await store.markOnce("evt-2", 60_000), true);
      assert.equal(await store.markOnce("evt-short", 40), true);
      await eventually(async () => !(await store.isMarked("evt-short")), "isMarked forgets after the TTL");
      assert.equal(await store.markOnce("evt-short", 60_000), true, "markOnce forgets after its TTL");
      assert.equal(await store.markOnce("evt-short", 60_000), false);
      // concurrent marks of one key: exactly one first
      const results = await Promise.all(Array.from({ length: 10 }, () => store.markOnce("evt-race", 60_000)));
      assert.equal(results.filter(Boolean).length, 1);
      // several keys at once, one of them already marked, one repeated: each answered on its own
      assert.deepEqual(await Promise.all(["evt-z", "evt-2", "evt-a", "evt-z"].map((k) => store.markOnce(k, 60_000))), [true, false, true, false]);
    }));

    it("markMany: markOnce per key in one step; a key repeated in the batch is a duplicate; expiry on the backend's clock", use(async ({ store, other }) => {
      assert.deepEqual(await store.markMany([], 60_000), []);
      assert.equal(await store.markOnce("many-1", 60_000), true);
      // fresh, already marked, fresh, repeated (fresh in this batch), repeated again
      assert.deepEqual(await store.markMany(["many-3", "many-1", "many-2", "many-3", "many-3"], 60_000), [true, false, true, false, false]);
      assert.equal(await store.isMarked("many-2"), true);
      assert.equal(await store.markOnce("many-2", 60_000), false, "markOnce sees markMany's marks");
      assert.deepEqual(await store.markMany(["many-2", "many-3"], 60_000), [false, false]);
      if (other) {
        const s2 = await other();
        assert.deepEqual(await s2.markMany(["many-3", "many-4"], 60_000), [false, true]);
        await s2.close();
      }
      // a batch of many keys, half of them marked before
      const keys = Array.from({ length: 300 }, (_, i) => `many-bulk-${i}`);
      assert.deepEqual(await store.markMany(keys.filter((_, i) => i % 2 === 0), 60_000), keys.filter((_, i) => i % 2 === 0).map(() => true));
      assert.deepEqual(await store.markMany(keys, 60_000), keys.map((_, i) => i % 2 === 1));
      // concurrent batches sharing a key: exactly one first
      const raced = await Promise.all(Array.from({ length: 10 }, (_, i) => store.markMany([`many-race-${i}`, "many-race"], 60_000)));
      assert.deepEqual(raced.map(([own]) => own), raced.map(() => true));
      assert.equal(raced.filter(([, shared]) => shared).length, 1);
      // expiry: forgotten after the TTL, then marked afresh
      assert.deepEqual(await store.markMany(["many-short", "many-long"], 40), [true, true]);
      await eventually(async () => !(await store.isMarked("many-short")), "isMarked forgets after markMany's TTL");
      assert.deepEqual(await store.markMany(["many-short", "many-5", "many-short"], 60_000), [true, true, false], "markMany forgets after its TTL");
      assert.equal(await store.markOnce("many-short", 60_000), false);
    }));
  });
}
