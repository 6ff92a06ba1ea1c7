// Store contract, locks.
import assert from "node:assert/strict";
import { it } from "node:test";
import type { Lock, LockStore } from "../../../src/store/types.ts";
import { eventually, roleSuite, type Closable, type StoreFactory, type SuiteOptions } from "./harness.ts";

export function runLockContract(name: string, factory: StoreFactory<LockStore & Closable>, options: SuiteOptions = {}): void {
  roleSuite("locks", name, factory, options, (use) => {
    it("tryLock: exclusive, owner-only release and extend, expires after its TTL", use(async ({ store, other }) => {
      const peer = other ? await other() : store;
      try {
        const a = await store.tryLock("issue:1", 60_000);
        assert.ok(a);
        assert.equal(a.name, "issue:1");
        assert.equal(await peer.tryLock("issue:1", 60_000), null);
        const b = await peer.tryLock("issue:2", 60_000);
        assert.ok(b, "other names are independent");
        assert.notEqual(a.owner, b.owner);
        await a.release();
        const c = await peer.tryLock("issue:1", 60_000);
        assert.ok(c, "released lock can be taken");
        await a.release(); // stale holder: must not release c
        assert.equal(await store.tryLock("issue:1", 60_000), null);
        await c.release();
        await b.release();

        // extend: keeps the holder's lock alive past its first TTL
        // (TTL 800 ms, extended every 300 ms: 1.2 s in all, with 500 ms to spare at each step.)
        const kept = await store.tryLock("issue:4", 800);
        assert.ok(kept);
        for (let i = 0; i < 4; i++) {
          await new Promise((r) => setTimeout(r, 300));
          assert.equal(await kept.extend(800), true, `extend ${i}`);
          assert.equal(await peer.tryLock("issue:4", 60_000), null, `still held after ${(i + 1) * 300} ms`);
        }
        await kept.release();
        assert.equal(await kept.extend(800), false, "a released lock is not extended");

        const short = await store.tryLock("issue:3", 40);
        assert.ok(short);
        let taken: Lock | null = null;
        await eventually(async () => (taken = await peer.tryLock("issue:3", 60_000)) !== null, "expired lock taken over");
        assert.equal(await short.extend(60_000), false, "an expired holder cannot take the lock back");
        await short.release(); // expired holder: must not release the new holder
        assert.equal(await store.tryLock("issue:3", 60_000), null);
        await taken!.release();
      } finally {
        if (peer !== store) await peer.close();
      }
    }));
  });
}
