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
    assert.deepEqual(asked, [["valid", "cold", "gone"]]);
    await bothDone;
    assert.deepEqual(maintained.sort(), ["cold", "gone"], "the channel with a valid stored token waits for its due time");
    assert.deepEqual(calls, ["listChannelIds"]);
  } finally {
    await scheduler.stop();
  }
});
