import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MicroBatcher } from "../../src/store/batcher.ts";

describe("MicroBatcher", () => {
  it("calls made in one tick go as one batch; each caller gets its own result, in order", async () => {
    const batches: string[][] = [];
    const b = new MicroBatcher<string, number>({ run: (items) => (batches.push([...items]), items.map((s) => s.length)) });
    assert.deepEqual(await Promise.all(["a", "bbb", "cc"].map((s) => b.add(s))), [1, 3, 2]);
    assert.deepEqual(batches, [["a", "bbb", "cc"]]);
    assert.equal(await b.add("dddd"), 4);
    assert.deepEqual(batches.at(-1), ["dddd"], "a later tick is a new batch");
  });

  it("maxBatch splits a long queue; a per-item promise settles only its own item", async () => {
    const sizes: number[] = [];
    const b = new MicroBatcher<number, number>({
      run: (items) => (sizes.push(items.length), items.map((n) => (n === 3 ? Promise.reject(new Error("bad 3")) : n * 10))),
      maxBatch: 2,
    });
    const out = await Promise.allSettled([1, 2, 3, 4, 5].map((n) => b.add(n)));
    assert.deepEqual(sizes, [2, 2, 1]);
    assert.deepEqual(out.map((o) => (o.status === "fulfilled" ? o.value : (o.reason as Error).message)), [10, 20, "bad 3", 40, 50]);
  });

  it("a batch that throws or rejects fails each of its items, not later ones", async () => {
    let fail = true;
    const sync = new MicroBatcher<number, number>({ run: (items) => { if (fail) throw new Error("down"); return items; } });
    const failed = await Promise.allSettled([sync.add(1), sync.add(2)]);
    assert.deepEqual(failed.map((f) => f.status), ["rejected", "rejected"]);
    fail = false;
    assert.equal(await sync.add(3), 3);
    const rejecting = new MicroBatcher<number, number>({ run: async () => Promise.reject(new Error("nope")) });
    await assert.rejects(rejecting.add(1), /nope/);
  });

  it("maxInFlight: later items wait and go together as the next batch", async () => {
    const started: number[][] = [];
    const release: Array<() => void> = [];
    const b = new MicroBatcher<number, number>({
      run: (items) => {
        started.push([...items]);
        return new Promise((resolve) => release.push(() => resolve(items)));
      },
      maxInFlight: 1,
    });
    const first = b.add(1);
    await Promise.resolve();
    const rest = [b.add(2), b.add(3)];
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, [[1]], "the second batch waits for a free slot");
    assert.equal(b.pending, 2);
    release[0]!();
    assert.equal(await first, 1);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, [[1], [2, 3]]);
    release[1]!();
    assert.deepEqual(await Promise.all(rest), [2, 3]);
  });

  it("windowMs gathers across ticks; flush() starts the batch at once", async () => {
    const batches: number[][] = [];
    const b = new MicroBatcher<number, number>({ run: (items) => (batches.push([...items]), items), windowMs: 60_000 });
    const a = b.add(1);
    await new Promise((r) => setImmediate(r));
    const c = b.add(2);
    assert.deepEqual(batches, [], "nothing runs before the window ends");
    b.flush();
    assert.deepEqual(batches, [[1, 2]]);
    assert.deepEqual(await Promise.all([a, c]), [1, 2]);
  });
});
