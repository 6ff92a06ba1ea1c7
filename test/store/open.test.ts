import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { InvalidInputError } from "../../src/core/errors.ts";
import { openStore, parseStoreSpec } from "../../src/store/open.ts";
import type { PostgresStore } from "../../src/store/postgres/store.ts";
import type { RedisStore } from "../../src/store/redis/store.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import { DATABASE_URL, postgresSkip, randomNamespace, REDIS_URL, redisSkip } from "./services.ts";

const dir = mkdtempSync(join(tmpdir(), "kagiya-open-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("parseStoreSpec", () => {
  it("reads every supported form", () => {
    assert.deepEqual(parseStoreSpec("memory:"), { kind: "memory" });
    assert.deepEqual(parseStoreSpec("sqlite:./a.db"), { kind: "sqlite", path: "./a.db" });
    assert.deepEqual(parseStoreSpec("sqlite:/tmp/a.db"), { kind: "sqlite", path: "/tmp/a.db" });
    assert.deepEqual(parseStoreSpec("sqlite:///tmp/a.db"), { kind: "sqlite", path: "/tmp/a.db" });
    assert.deepEqual(parseStoreSpec("redis://127.0.0.1:6379"), { kind: "redis", url: "redis://127.0.0.1:6379" });
    assert.deepEqual(parseStoreSpec("rediss://h:6380/2?prefix=app:"), { kind: "redis", url: "rediss://h:6380/2", prefix: "app:" });
    assert.deepEqual(parseStoreSpec("postgres://u@h:5432/db?schema=k1"), { kind: "postgres", url: "postgres://u@h:5432/db", schema: "k1" });
    assert.equal(parseStoreSpec("postgresql://u:p@h/db").kind, "postgres");
  });

  it("refuses bad specs with one clear line, never echoing a password", () => {
    const bad: Array<[string, RegExp]> = [
      ["mysql://u:pw@h/db", /unknown store "mysql:\/\/u:\*\*\*@h\/db"/],
      ["kagiya.db", /unknown store/],
      ["", /unknown store/],
      ["sqlite:", /needs a file path/],
      ["redis://", /no host|not a valid URL/],
      ["redis://h/x", /database must be a number/],
      ["postgres://u:pw@h/db?schema=a;drop", /schema must be/],
      ["postgres://u:pw@[bad/db", /not a valid URL/],
    ];
    for (const [spec, re] of bad) {
      assert.throws(() => parseStoreSpec(spec), (e: unknown) => e instanceof InvalidInputError && re.test(e.message) && !e.message.includes("pw") && !e.message.includes("\n"), spec);
    }
  });
});

describe("openStore", () => {
  it("defaults to KAGIYA_DB, then ./kagiya.db in cwd, and migrates", async () => {
    const path = join(dir, "env.db");
    const s1 = await openStore(undefined, { KAGIYA_DB: path });
    assert.equal(s1.kind, "sqlite");
    assert.equal((s1 as SqliteStore).path, path);
    assert.equal(await s1.getMeta("x"), null);
    await s1.close();
    const s2 = await openStore(undefined, {}, { cwd: dir });
    assert.equal((s2 as SqliteStore).path, join(dir, "kagiya.db"));
    await s2.close();
    assert.ok(existsSync(join(dir, "kagiya.db")));
    const s3 = await openStore("sqlite:rel.db", {}, { cwd: dir });
    assert.equal((s3 as SqliteStore).path, join(dir, "rel.db"));
    await s3.close();
    const m = await openStore("memory:");
    assert.equal(m.kind, "memory");
  });

  it("prefers DATABASE_URL, then REDIS_URL, over the SQLite default", async () => {
    // Closed ports: the error names which backend was chosen.
    await assert.rejects(openStore(undefined, { DATABASE_URL: "postgres://x@127.0.0.1:1/db", REDIS_URL: "redis://127.0.0.1:1", KAGIYA_DB: join(dir, "no.db") }), /PostgreSQL/);
    await assert.rejects(openStore(undefined, { REDIS_URL: "redis://127.0.0.1:1", KAGIYA_DB: join(dir, "no.db") }), /Redis/);
    assert.equal(existsSync(join(dir, "no.db")), false);
  });
});

describe("openStore options", async () => {
  const [redisSkipped, postgresSkipped] = await Promise.all([redisSkip(), postgresSkip()]);

  it("pass Redis settings in code; the URL's ?prefix= wins over them", { skip: redisSkipped }, async () => {
    const prefix = `${randomNamespace("open")}:`;
    const s1 = await openStore(REDIS_URL, {}, { migrate: false, redis: { prefix, commandTimeoutMs: 3000 } });
    assert.equal((s1 as RedisStore).prefix, prefix);
    await s1.close();
    const s2 = await openStore(`${REDIS_URL}?prefix=from-url:`, {}, { migrate: false, redis: { prefix } });
    assert.equal((s2 as RedisStore).prefix, "from-url:");
    await s2.close();
  });

  it("pass PostgreSQL settings in code", { skip: postgresSkipped }, async () => {
    const schema = randomNamespace("open");
    const store = await openStore(DATABASE_URL, {}, { migrate: false, postgres: { schema, poolSize: 2 } });
    assert.equal((store as PostgresStore).schema, schema);
    await store.close();
  });

  it("pass SQLite settings in code", async () => {
    let reads = 0;
    const store = await openStore(`sqlite:${join(dir, "options.db")}`, {}, { sqlite: { now: () => (reads++, 1_000) } });
    assert.equal(await store.markOnce("k", 60_000), true);
    assert.ok(reads > 0, "the injected clock was used");
    await store.close();
  });
});
