// PostgreSQL restarted in the middle of kagiya's transactions, on a private server (initdb +
// pg_ctl on a free port; never the shared one on 5432). A second session holds a row the
// transaction needs, so it is caught after its first writes, waiting; pg_stat_activity shows it
// there; then the server is stopped (immediate mode: what a crash does) and started again.
// Expected: a one-line StoreError (an issued token's write is kept in memory and done after the
// restart), nothing of the transaction in the store, the next call after the restart succeeds,
// and no token lost or duplicated at LINE.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { KagiyaError } from "../../src/core/errors.ts";
import { openStore } from "../../src/store/open.ts";
import type { PostgresStore } from "../../src/store/postgres/store.ts";
import { tokenLedger } from "../helpers/emulator.ts";
import { randomNamespace } from "../store/services.ts";
import type { Backend } from "../tokens/backends.ts";
import { tokenWorld } from "../tokens/setup.ts";
import { gatedLine } from "./gated-line.ts";
import { privatePostgresSkip, startPrivatePostgres, type PrivatePostgres } from "./services.ts";

const skip = privatePostgresSkip();

/** A session of its own that holds rows locked in an open transaction. */
async function blocker(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  c.on("error", () => {}); // the restart ends it
  await c.connect();
  await c.query("BEGIN");
  return c;
}

/** Waits until a statement matching `like` waits on a lock (the transaction is stuck mid-way). */
async function waitingOnLock(url: string, like: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    for (let i = 0; i < 400; i++) {
      const r = await c.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1", [like]);
      if (r.rows[0].n > 0) return;
      await sleep(25);
    }
    throw new Error(`no statement like ${like} ever waited on a lock`);
  } finally {
    await c.end();
  }
}

/** A one-line ERR_STORE_UNAVAILABLE naming the call. */
function unavailable(what: string): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof KagiyaError, String(e));
    assert.equal(e.code, "ERR_STORE_UNAVAILABLE", e.message);
    assert.match(e.message, new RegExp(`^PostgreSQL at postgres://postgres@127\\.0\\.0\\.1:\\d+/postgres is unavailable \\(${what}\\): `));
    assert.ok(!e.message.includes("\n"));
    return true;
  };
}

describe("PostgreSQL restarted mid-transaction", { skip }, () => {
  let server: PrivatePostgres;
  let backend: Backend;
  before(async () => {
    server = await startPrivatePostgres();
    const spec = `${server.url}?schema=${randomNamespace("pgrestart")}`;
    backend = { name: "postgres", skip: false, spec, open: () => openStore(spec) };
  });
  after(() => server?.close());

  test("commitToken stopped after its first write: ERR_STORE_UNAVAILABLE inside, nothing of it stored, the token kept in memory and handed out, written after the restart (LINE asked once)", async () => {
    const w = await tokenWorld({ backend });
    const id = w.channel.channelId;
    const store = w.store as PostgresStore;
    const line = gatedLine(w);
    const m = w.manager({ line: line.api });
    const first = await m.get(id);
    const before = await store.getCurrent(id);

    // LINE answers the refresh; before kagiya hears it, another session takes the row the new
    // token will be written to, so commitToken stops there, after marking the old token superseded.
    const held = line.hold();
    const issuing = m.issue(id);
    await held.answered;
    const issued = (await tokenLedger(w.emu.url, id))[1]!;
    const lock = await blocker(server.url);
    await lock.query(`INSERT INTO "${store.schema}".tokens (channel_id, key_id, access_token, generation, state, issued_at, expires_at, refresh_at, revoke_at, updated_at) VALUES ($1, $2, 'x', 0, 'valid', 0, 0, 0, NULL, 0)`, [id, issued.key_id]);
    held.release();
    await waitingOnLock(server.url, "INSERT INTO%tokens%");

    server.stop();
    server.start();
    // The write failed (ERR_STORE_UNAVAILABLE): the token LINE issued is handed out all the same.
    const kept = await issuing;
    assert.equal(kept.keyId, issued.key_id);
    await lock.end().catch(() => {});
    assert.equal((await m.get(id)).keyId, issued.key_id, "the kept token is served");

    // Written once the store answers (before the issue lock goes, or by maintenance): one commit of
    // it, no second issuance, every valid token at LINE tracked.
    await m.maintain(id);
    assert.equal((await store.getCurrent(id)).token?.keyId, issued.key_id);
    assert.equal((await store.getCurrent(id)).generation, before.generation + 1);
    assert.equal(await store.getIssueIntent(id), null);
    assert.deepEqual((await tokenLedger(w.emu.url, id)).map((r) => [r.key_id, r.state]), [[first.keyId, "valid"], [issued.key_id, "valid"]]);
    const rows = await store.listTokens(id);
    assert.deepEqual(rows.map((t) => [t.keyId, t.state]).sort(), [[first.keyId, "superseded"], [issued.key_id, "valid"]].sort(), "every valid token at LINE is tracked");
    assert.equal((await m.get(id)).keyId, issued.key_id);
  });

  for (const mode of ["immediate", "fast"] as const) test(`an inbox accept stopped mid-statement (pg_ctl stop -m ${mode}): ERR_STORE_UNAVAILABLE (no 200 for it), not recorded, accepted once when sent again after the restart`, async () => {
    const store = (await backend.open()) as PostgresStore;
    try {
      await store.destroy();
      await store.migrate();
      const now = Date.now();
      assert.equal(await store.acceptEvent("ev-before", JSON.stringify({ n: 0 }), 60_000, now), true);
      const lock = await blocker(server.url);
      await lock.query(`INSERT INTO "${store.schema}".inbox (key, payload, accepted_at, expires_at, owner, lease_until, attempts) VALUES ('ev-cut', 'x', 0, 0, NULL, 0, 0)`);
      const accepting = store.acceptEvent("ev-cut", JSON.stringify({ n: 1 }), 60_000, now);
      await waitingOnLock(server.url, "INSERT INTO%inbox%");

      server.stop(mode);
      server.start();
      // -m fast ends the blocking session too, and may do so first: the accept can then go through
      // before its own session ends. Either it failed (no 200: LINE redelivers, accepted now) or it
      // was recorded (a 200; the redelivery is a duplicate). Never both, never neither.
      const first = await accepting.then((v) => v, (e: unknown) => (unavailable("acceptEvent")(e), "failed" as const));
      if (mode === "immediate") assert.equal(first, "failed");
      await lock.end().catch(() => {});

      // LINE redelivers what was not answered 200: accepted now, once; handled once.
      assert.equal(await store.acceptEvent("ev-cut", JSON.stringify({ n: 1 }), 60_000, now + 1), first === "failed");
      assert.equal(await store.acceptEvent("ev-cut", JSON.stringify({ n: 1 }), 60_000, now + 2), false, "a duplicate of it is not");
      const claimed = await store.claimEvents("me", 30_000, 10, now + 3);
      assert.deepEqual(claimed.map((e) => [e.key, e.payload]), [["ev-before", JSON.stringify({ n: 0 })], ["ev-cut", JSON.stringify({ n: 1 })]]);
      for (const e of claimed) assert.equal(await store.finishEvent(e.key, "me", now + 4), true);
      assert.deepEqual(await store.claimEvents("me", 30_000, 10, now + 5), []);
    } finally {
      await store.close();
    }
  });
});
