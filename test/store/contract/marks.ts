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
  });
}
