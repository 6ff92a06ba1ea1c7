// The scheduler's start-up plans from what is stored: channel IDs alone, one dueMany call for every
// new channel, ready once all are planned, and a channel whose stored token is valid not touched
// before its due time (no maintenance call each at start).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Scheduler, type SchedulerStore } from "../../src/server/scheduler.ts";
import type { MaintenanceTarget } from "../../src/server/types.ts";

test("start-up: IDs listed once, every new channel planned by one dueMany call, ready after; only channels due now are maintained", async () => {
  let release!: (ids: string[]) => void;
  const listed = new Promise<string[]>((r) => (release = r));
  const calls: string[] = [];
  const store: SchedulerStore = {
    listChannelIds: () => {
      calls.push("listChannelIds");
      return listed;
    },
    listChannels: async () => {
      calls.push("listChannels");
      return [];
    },
    tryLock: async () => null,
  };
  const now = Date.now();
  const asked: string[][] = [];
  const maintained: string[] = [];
  let done!: () => void;
  const bothDone = new Promise<void>((r) => (done = r));
  const target: MaintenanceTarget = {
    async dueMany(ids) {
      asked.push([...ids]);
      // "valid" has a token due in a year; "cold" has none (null: now); "gone" is not answered (now).
      return new Map([["valid", now + 365 * 86_400_000], ["cold", null]]);
    },
    async maintain(id) {
      maintained.push(id);
      if (maintained.includes("cold") && maintained.includes("gone")) done();
      return now + 365 * 86_400_000;
    },
    async reconcile() {},
  };
  const scheduler = new Scheduler(store, target, { tickMs: 5, gapMs: 0, spreadMs: 0 });
  scheduler.start();
  try {
    assert.equal(scheduler.ready, false);
    // "valid" first: were it due now too, it would be maintained before the other two.
    release(["valid", "cold", "gone"]);
    await scheduler.whenReady();
    assert.equal(scheduler.ready, true);
    assert.equal(scheduler.size, 3);
    assert.deepEqual(asked[0], ["valid", "cold", "gone"]);
    await bothDone;
    assert.deepEqual(maintained.sort(), ["cold", "gone"], "the channel with a valid stored token waits for its due time");
    assert.deepEqual(calls, ["listChannelIds"]);
  } finally {
    await scheduler.stop();
  }
});

/** A scheduler store listing `ids` and holding no locks. */
function idsStore(ids: string[]): SchedulerStore {
  return { listChannelIds: async () => ids, listChannels: async () => [], tryLock: async () => null };
}

test("a channel another instance already maintained is not maintained again: one dueMany read for the channels started together, and the plan follows what is stored", async () => {
  const now = Date.now();
  const asked: string[][] = [];
  const maintained: string[] = [];
  const maintainedB = Promise.withResolvers<void>();
  const target: MaintenanceTarget = {
    async dueMany(ids) {
      asked.push([...ids]);
      // Start-up: both without a token (due now). Later, "a" has a token another instance got, due in a year.
      return asked.length === 1 ? new Map([["a", null], ["b", null]]) : new Map([["a", now + 365 * 86_400_000], ["b", null]]);
    },
    async maintain(id) {
      maintained.push(id);
      if (id === "b") maintainedB.resolve();
      return now + 365 * 86_400_000;
    },
    async reconcile() {},
  };
  const scheduler = new Scheduler(idsStore(["a", "b"]), target, { tickMs: 5, gapMs: 0, spreadMs: 0, concurrency: 2, reconcileMs: 1e12 });
  scheduler.start();
  try {
    await maintainedB.promise;
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(maintained, ["b"], "a was done elsewhere");
    assert.equal(asked.length, 2);
    assert.deepEqual(asked[1]!.sort(), ["a", "b"], "one read for both checks");
  } finally {
    await scheduler.stop();
  }
});

test("a backlog (the clock jumped past many due times) is taken in this instance's own order, not in due-time order", async () => {
  let offset = 0;
  const now = () => Date.now() + offset;
  const ids = Array.from({ length: 6 }, (_, i) => `c${i}`);
  const maintained: string[] = [];
  const all = Promise.withResolvers<void>();
  const target: MaintenanceTarget = {
    // Start-up: c0 first, c5 last, an hour apart; the checks before maintaining: still due.
    async dueMany(asked) {
      return new Map(asked.map((id) => [id, maintained.length === 0 && offset === 0 ? now() + 3600_000 * (1 + Number(id.slice(1))) : now() - 1]));
    },
    async maintain(id) {
      maintained.push(id);
      if (maintained.length === ids.length) all.resolve();
      return now() + 365 * 86_400_000;
    },
    async reconcile() {},
  };
  // Each draw smaller than the one before: the backlog comes out in reverse.
  let k = 0;
  const scheduler = new Scheduler(idsStore(ids), target, { tickMs: 5, gapMs: 0, spreadMs: 1000, concurrency: 1, reconcileMs: 1e12, now, random: () => 0.999 - 0.001 * k++ });
  scheduler.start();
  try {
    await scheduler.whenReady();
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(maintained, [], "nothing due before the jump");
    offset = 10 * 3600_000;
    await all.promise;
    assert.deepEqual(maintained, [...ids].reverse());
  } finally {
    await scheduler.stop();
  }
});
