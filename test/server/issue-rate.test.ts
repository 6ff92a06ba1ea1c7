// The issuance rate limiter on an injected clock and a shared in-memory store: a permit whenever
// the second's budget is not spent (wherever the clock is in the second), and never more than the
// cap of permits whose request could reach the upstream in any one second, across instances.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryStore } from "../../src/store/memory.ts";
import { IssueRateLimiter } from "../../src/server/issue-rate.ts";
import { mulberry32 } from "../../src/core/prng.ts";

const BASE = 1_800_000_000_000;

async function takeAll(limiter: IssueRateLimiter, tries: number): Promise<number> {
  let n = 0;
  for (let i = 0; i < tries; i++) if (await limiter.tryTake()) n++;
  return n;
}

for (const into of [0, 100, 700, 760, 900, 999]) {
  test(`a clock frozen ${into} ms into a second gets the whole budget, then no more`, async () => {
    const now = () => BASE + into;
    const store = new MemoryStore({ now });
    const limiter = new IssueRateLimiter(store, { perSecond: 5, now });
    assert.equal(await takeAll(limiter, 20), 5);
    // Another instance on the same store finds the second spent.
    assert.equal(await takeAll(new IssueRateLimiter(store, { perSecond: 5, now }), 5), 0);
    assert.ok(limiter.nextSlotAt() > now(), "spent: the next permit is in a later second");
  });
}

test("the next second's budget is there once the clock reaches it", async () => {
  let t = BASE + 300;
  const now = () => t;
  const store = new MemoryStore({ now });
  const limiter = new IssueRateLimiter(store, { perSecond: 3, now });
  assert.equal(await takeAll(limiter, 10), 3);
  assert.equal(limiter.nextSlotAt(), BASE + 1000);
  t = limiter.nextSlotAt();
  assert.equal(await takeAll(limiter, 10), 3);
});

test("permits taken late in a second count in the next one too", async () => {
  let t = BASE + 900;
  const now = () => t;
  const store = new MemoryStore({ now });
  const limiter = new IssueRateLimiter(store, { perSecond: 4, now });
  assert.equal(await takeAll(limiter, 3), 3);
  t = BASE + 1100;
  // The three taken at .900 may have reached the upstream in this second.
  assert.equal(await takeAll(limiter, 10), 1);
});

test("three instances on a stepping clock never exceed the cap in any second a request could land in", async () => {
  const random = mulberry32(7);
  const cap = 5;
  let t = BASE;
  const now = () => t;
  const store = new MemoryStore({ now });
  const limiters = [0, 1, 2].map(() => new IssueRateLimiter(store, { perSecond: cap, now }));
  const taken: number[] = [];
  while (t < BASE + 30_000) {
    for (const l of limiters) if (random() < 0.7 && (await l.tryTake())) taken.push(t);
    t += 1 + Math.floor(random() * 80);
  }
  const landing = new Map<number, number>();
  for (const at of taken) {
    // A request sent at `at` reaches the upstream within 250 ms: in either of these seconds.
    for (const s of new Set([Math.floor(at / 1000), Math.floor((at + 250) / 1000)])) landing.set(s, (landing.get(s) ?? 0) + 1);
  }
  assert.ok(Math.max(...landing.values()) <= cap, `at most ${cap} in any second, saw ${Math.max(...landing.values())}`);
  // And the budget is used: most seconds hand out most of it.
  assert.ok(taken.length >= 30 * (cap - 2), `only ${taken.length} permits in 30 s`);
});
