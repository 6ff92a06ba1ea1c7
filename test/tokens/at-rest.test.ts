import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { KagiyaError } from "../../src/core/errors.ts";
import { SealedValueError } from "../../src/store/errors.ts";
import { lineTokenApi } from "../../src/tokens/line.ts";
import { TokenManager } from "../../src/tokens/manager.ts";
import type { Store } from "../../src/store/types.ts";
import { allBackends, type Backend } from "./backends.ts";
import { tokenWorld } from "./setup.ts";

/** Everything the backend holds, as raw text: the file bytes, every Redis value, every table row. */
async function rawDump(backend: Backend, store: Store): Promise<string> {
  if (backend.name === "sqlite") {
    const path = backend.spec.slice("sqlite:".length);
    return [path, `${path}-wal`].filter(existsSync).map((p) => readFileSync(p).toString("latin1")).join("\n");
  }
  if (backend.name === "redis") {
    const c = (store as unknown as { client: any; prefix: string }).client;
    const prefix = (store as unknown as { prefix: string }).prefix;
    const out: string[] = [];
    for (const key of (await c.keys(`${prefix}*`)) as string[]) {
      const type = await c.type(key);
      out.push(key);
      if (type === "string") out.push(await c.get(key));
      else if (type === "hash") out.push(JSON.stringify(await c.hgetall(key)));
      else if (type === "list") out.push(JSON.stringify(await c.lrange(key, 0, -1)));
      else if (type === "set") out.push(JSON.stringify(await c.smembers(key)));
      else if (type === "zset") out.push(JSON.stringify(await c.zrange(key, 0, -1, "WITHSCORES")));
      else if (type === "stream") out.push(JSON.stringify(await c.xrange(key, "-", "+")));
    }
    return out.join("\n");
  }
  const s = store as unknown as { pool: any; schema: string };
  const tables = await s.pool.query("SELECT table_name FROM information_schema.tables WHERE table_schema = $1", [s.schema]);
  const out: string[] = [];
  for (const { table_name } of tables.rows as Array<{ table_name: string }>) {
    const r = await s.pool.query(`SELECT row_to_json(t)::text AS j FROM "${s.schema}"."${table_name}" t`);
    for (const row of r.rows as Array<{ j: string }>) out.push(row.j);
  }
  return out.join("\n");
}

for (const backend of await allBackends()) describe(backend.name, { skip: backend.skip }, () => {
  test("no access token, channel secret or private key member in plaintext anywhere in the store", async () => {
    const w = await tokenWorld({ backend });
    const id = w.channel.channelId;
    const m = w.manager();
    const t1 = await m.get(id);
    const t2 = await m.issue(id);
    await m.reconcile(id);
    await m.revoke(id, t1.keyId);
    const raw = await rawDump(backend, w.store);
    assert.ok(raw.includes(t1.keyId), "the dump holds the store's rows (key IDs are not secret)");
    const jwk = w.channel.privateJwk as Record<string, string>;
    const secrets = { t1: t1.accessToken, t2: t2.accessToken, channelSecret: w.channel.channelSecret, d: jwk["d"]!, p: jwk["p"]!, q: jwk["q"]!, dp: jwk["dp"]!, dq: jwk["dq"]!, qi: jwk["qi"]! };
    for (const [name, value] of Object.entries(secrets)) {
      assert.ok(!raw.includes(value), `${name} found in plaintext in ${backend.name}`);
      // JSON escaping or a slice of a long value would hide a leak from includes(): check a fragment too.
      assert.ok(!raw.includes(value.slice(8, 40)), `${name} fragment found in plaintext in ${backend.name}`);
    }
  });

  test("a corrupt token row: a typed error naming the row, never its contents; the row is left as it was", async () => {
    const w = await tokenWorld({ backend });
    const id = w.channel.channelId;
    const t1 = await w.manager().get(id);
    const cur = await w.store.getCurrent(id);
    // Copy another row's ciphertext into this one (sealed for a different place).
    const channelRow = (await w.store.getChannel(id))!;
    await w.store.putToken({ ...cur.token!, accessToken: channelRow.channelSecret });
    const m = w.manager();
    await assert.rejects(m.get(id), (e: unknown) => {
      assert.ok(e instanceof SealedValueError);
      assert.equal(e.code, "ERR_SEALED_CORRUPT");
      assert.match(e.message, new RegExp(`${id}/${t1.keyId}`));
      assert.ok(!e.message.includes(t1.accessToken) && !e.message.includes(w.channel.channelSecret));
      return true;
    });
    assert.equal((await w.store.getCurrent(id)).token?.accessToken, channelRow.channelSecret, "left untouched");
  });
  test("the store becomes unreachable: tokens in memory keep being served until they near expiry; otherwise a typed store error", async () => {
    const w = await tokenWorld({ backend });
    const id = w.channel.channelId;
    const other = await w.addChannel();
    const { store, registry } = await w.reopen();
    const m = new TokenManager({ registry, line: lineTokenApi({ baseUrl: w.emu.url, now: w.clock.now }), now: w.clock.now });
    const t = await m.get(id);
    await store.close(); // this process loses its connection (or file handle)
    await w.clock.advance(120); // past the memory cache's store re-check
    assert.equal((await m.get(id)).accessToken, t.accessToken);
    await assert.rejects(m.get(other.channelId), (e: unknown) => e instanceof KagiyaError && /^ERR_STORE/.test(e.code) && !e.message.includes(t.accessToken));
    // Nothing was lost: the token is still in the store for every other process.
    assert.equal((await w.manager().get(id)).accessToken, t.accessToken);
  });
});
