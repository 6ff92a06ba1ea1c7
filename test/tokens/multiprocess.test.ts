import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { tokenLedger } from "../helpers/emulator.ts";
import { allBackends } from "./backends.ts";
import { sha, spawnChild, storm } from "./processes.ts";
import { tokenWorld } from "./setup.ts";

for (const backend of await allBackends()) describe(backend.name, { skip: backend.skip }, () => {
  test("1,000 concurrent get() from 4 processes on a cold channel, then again at the refresh point: one issuance each time, one token for all", async () => {
    const w = await tokenWorld({ backend });
    const id = w.channel.channelId;
    const cold = await storm(w, backend.spec);
    let ledger = await tokenLedger(w.emu.url, id);
    assert.equal(ledger.length, 1, "exactly one issuance");
    for (const r of cold) {
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.out, { hashes: { [sha(ledger[0]!.access_token)]: 250 }, failures: [] });
    }
    // Move every clock past the token's refresh point.
    const cur = await w.store.getCurrent(id);
    await w.clock.advance(Math.ceil((cur.token!.refreshAt - w.clock.now()) / 1000) + 1);
    const refresh = await storm(w, backend.spec);
    ledger = await tokenLedger(w.emu.url, id);
    assert.equal(ledger.length, 2, "exactly one refresh");
    for (const r of refresh) {
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.out, { hashes: { [sha(ledger[1]!.access_token)]: 250 }, failures: [] });
    }
    const after = await w.store.getCurrent(id);
    assert.equal(after.generation, 2);
    assert.equal(after.token?.keyId, ledger[1]!.key_id);
  });

  test("SIGKILL after LINE answered an issue and before the token was stored: on restart the orphan is found, counted, and the budget holds", async () => {
    const w = await tokenWorld({ backend });
    const id = w.channel.channelId;
    const k = spawnChild(w, backend.spec, { KAGIYA_TEST_KILL_AFTER_ISSUE: "1", KAGIYA_TEST_COUNT: "10", KAGIYA_TEST_LOCK_TTL_MS: "300" });
    await k.ready;
    k.child.stdin!.end("go\n");
    const r = await k.done;
    assert.equal(r.signal, "SIGKILL", r.stderr);
    const ledger = await tokenLedger(w.emu.url, id);
    assert.equal(ledger.length, 1, "LINE issued the token");
    assert.deepEqual(await w.store.listTokens(id), [], "the process died before storing it");

    // Restart: a new process's manager. It waits out the dead holder's lock (300 ms here, 30 s by
    // default), and its first get() checks LINE's key IDs before issuing.
    const m = w.manager();
    const t = await m.get(id);
    assert.notEqual(t.keyId, ledger[0]!.key_id);
    const rows = await w.store.listTokens(id);
    const orphan = rows.find((x) => x.keyId === ledger[0]!.key_id);
    assert.equal(orphan?.state, "orphan");
    assert.equal(orphan?.accessToken, null);
    const report = await m.reconcile(id);
    assert.deepEqual(report.orphans, [ledger[0]!.key_id]);
    assert.equal(report.budgetUsed, 2);
    assert.equal(report.budgetLeft, 28);
    assert.equal((await m.status(id)).budgetUsed, 2);
  });
});
