import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StoreError } from "../../src/store/errors.ts";
import { openStore } from "../../src/store/open.ts";
import { POSTGRES_SCHEMA_VERSION, PostgresStore } from "../../src/store/postgres/store.ts";
import { runStoreContract, sharedStoreHarness } from "./contract.ts";
import { DATABASE_URL, postgresSkip, randomNamespace } from "./services.ts";

const skip = await postgresSkip();

/** Every row of every table in the schema, as text. */
async function dump(store: PostgresStore): Promise<Buffer> {
  const tables = await store.pool.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = $1", [store.schema]);
  const parts: string[] = [];
  for (const { table_name } of tables.rows) {
    const rows = await store.pool.query(`SELECT t::text AS row FROM "${store.schema}"."${table_name}" t`);
    parts.push(table_name, ...rows.rows.map((r) => String(r["row"])));
  }
  return Buffer.from(parts.join("\n"));
}

runStoreContract(
  "postgres",
  () => {
    const schema = randomNamespace("pg");
    return sharedStoreHarness(() => PostgresStore.connect({ url: DATABASE_URL, schema, poolSize: 4 }), { rawBytes: dump, destroy: (s) => s.destroy() });
  },
  { skip },
);

describe("PostgresStore specifics", { skip }, () => {
  it("batched marks: two stores marking overlapping keys with cleanups never deadlock; a key PostgreSQL refuses fails only its own mark", async () => {
    const schema = randomNamespace("pg");
    const [a, b] = await Promise.all([1, 2].map(() => PostgresStore.connect({ url: DATABASE_URL, schema, poolSize: 4 })));
    try {
      await a!.migrate();
      let failures = 0;
      let fresh = 0;
      for (let round = 0; round < 20; round++) {
        const marks = Array.from({ length: 600 }, (_, i) => (i % 2 ? a! : b!).markOnce(`k${(i * 7919 + round) % 500}`, 1).catch(() => (failures++, false)));
        for (const r of await Promise.all(marks)) if (r) fresh++;
        await new Promise((r) => setTimeout(r, 3)); // every mark expires: the next round renews them all
      }
      assert.equal(failures, 0);
      assert.equal(fresh, 20 * 500, "each key fresh exactly once per round");
      const mixed = await Promise.allSettled([a!.markOnce("good-1", 60_000), a!.markOnce("bad\u0000key", 60_000), a!.markOnce("good-2", 60_000)]);
      assert.deepEqual(mixed.map((m) => m.status), ["fulfilled", "rejected", "fulfilled"]);
      assert.deepEqual(mixed.filter((m) => m.status === "fulfilled").map((m) => (m as PromiseFulfilledResult<boolean>).value), [true, true]);
    } finally {
      await a!.destroy();
      await a!.close();
      await b!.close();
    }
  });

  it("migrations: concurrent first runs apply each version once; a newer schema is refused", async () => {
    const schema = randomNamespace("pg");
    const stores = await Promise.all([1, 2, 3].map(() => PostgresStore.connect({ url: DATABASE_URL, schema, poolSize: 2 })));
    try {
      await Promise.all(stores.map((s) => s.migrate()));
      assert.equal(await stores[0]!.schemaVersion(), POSTGRES_SCHEMA_VERSION);
      const rows = await stores[0]!.pool.query(`SELECT version FROM "${schema}".schema_version ORDER BY version`);
      assert.deepEqual(rows.rows.map((r) => r["version"]), [1, 2, 3, 4]);
      await stores[0]!.pool.query(`INSERT INTO "${schema}".schema_version (version) VALUES ($1)`, [POSTGRES_SCHEMA_VERSION + 1]);
      await assert.rejects(stores[1]!.migrate(), (e: unknown) => e instanceof StoreError && e.code === "ERR_STORE_SCHEMA");
    } finally {
      await stores[0]!.destroy();
      for (const s of stores) await s.close();
    }
  });

  it("openStore honours ?schema= and keeps tables in it", async () => {
    const schema = randomNamespace("pg");
    const store = (await openStore(`${DATABASE_URL}?schema=${schema}`, {})) as PostgresStore;
    try {
      assert.equal(store.schema, schema);
      await store.setMeta("a", "b");
      const r = await store.pool.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1", [schema]);
      assert.ok(r.rows[0]!["n"] >= 8);
    } finally {
      await store.destroy();
      await store.close();
    }
  });
});

describe("PostgresStore unreachable", () => {
  it("a closed port fails fast with ERR_STORE_UNAVAILABLE, without the password", async () => {
    await assert.rejects(openStore("postgres://kagiya:hunter2@127.0.0.1:1/test", {}), (e: unknown) =>
      e instanceof StoreError && e.code === "ERR_STORE_UNAVAILABLE" && /PostgreSQL/.test(e.message) && e.message.includes("127.0.0.1:1") && !e.message.includes("hunter2"));
  });

  it("a database that does not exist fails typed with a hint", { skip }, async () => {
    const url = new URL(DATABASE_URL);
    url.pathname = "/kagiya_no_such_database";
    await assert.rejects(openStore(url.toString(), {}), (e: unknown) =>
      e instanceof StoreError && e.code === "ERR_STORE_UNAVAILABLE" && /does not exist/.test(e.message) && /database name/.test(e.message));
  });

  it("a closed store fails typed", { skip }, async () => {
    const store = await PostgresStore.connect({ url: DATABASE_URL, schema: randomNamespace("pg") });
    await store.close();
    await assert.rejects(store.getCurrent("1"), (e: unknown) => e instanceof StoreError);
  });
});
