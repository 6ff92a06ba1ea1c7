import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, describe, it } from "node:test";
import { StoreError } from "../../src/store/errors.ts";
import { SqliteStore, SQLITE_SCHEMA_VERSION } from "../../src/store/sqlite/store.ts";
import { generateMasterKeyText } from "../../src/store/sealed.ts";
import { runCli } from "../helpers/cli.ts";
import { runStoreContract, sharedStoreHarness } from "./contract.ts";

const dir = mkdtempSync(join(tmpdir(), "kagiya-sqlite-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

runStoreContract("sqlite", () => {
  const path = join(dir, `contract-${++n}.db`);
  return sharedStoreHarness(async () => new SqliteStore({ path }), {
    // The main file and its WAL and shared-memory files, as they are on disk while open.
    rawBytes: async () => Buffer.concat([path, `${path}-wal`, `${path}-shm`, `${path}-journal`].filter(existsSync).map((p) => readFileSync(p))),
  });
});

describe("SqliteStore specifics", () => {
  it("uses WAL with synchronous=FULL, creates the file owner-only, records the schema version", async () => {
    const path = join(dir, "pragmas.db");
    const store = new SqliteStore({ path });
    await store.migrate();
    assert.equal(await store.schemaVersion(), SQLITE_SCHEMA_VERSION);
    const db = new DatabaseSync(path);
    assert.equal(db.prepare("PRAGMA journal_mode").get()?.["journal_mode"], "wal");
    assert.deepEqual(db.prepare("SELECT version FROM schema_version ORDER BY version").all().map((r) => r["version"]), [1, 2, 3, 4]);
    db.close();
    await store.setMeta("x", "y");
    for (const f of [path, `${path}-wal`, `${path}-shm`]) assert.equal(statSync(f).mode & 0o077, 0, f);
    await store.close();
    const again = new SqliteStore({ path });
    await again.migrate();
    await again.migrate();
    assert.equal(await again.schemaVersion(), SQLITE_SCHEMA_VERSION);
    await again.close();
  });

  it("refuses a schema newer than this kagiya", async () => {
    const path = join(dir, "newer.db");
    const store = new SqliteStore({ path });
    await store.migrate();
    const db = new DatabaseSync(path);
    db.prepare("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)").run(SQLITE_SCHEMA_VERSION + 1, 0);
    db.close();
    await assert.rejects(store.migrate(), (e: unknown) => e instanceof StoreError && e.code === "ERR_STORE_SCHEMA" && /upgrade kagiya/.test(e.message));
    await store.close();
  });

  it("a file that cannot be opened is ERR_STORE_UNAVAILABLE with the path", () => {
    const path = join(dir, "no-such-dir", "x.db");
    assert.throws(() => new SqliteStore({ path }), (e: unknown) => e instanceof StoreError && e.code === "ERR_STORE_UNAVAILABLE" && e.message.includes(path));
  });

  it("processes sharing one file: every successful commit advances the generation exactly once", async () => {
    const path = join(dir, "procs.db");
    const first = new SqliteStore({ path });
    await first.migrate();
    const worker = new URL("./sqlite-worker.ts", import.meta.url).pathname;
    const runs = await Promise.all(["a", "b", "c"].map((tag) => promisify(execFile)(process.execPath, [worker, path, tag, "40"])));
    const wins = runs.map((r) => (JSON.parse(r.stdout) as { wins: number }).wins);
    const total = wins.reduce((a, b) => a + b, 0);
    assert.ok(total >= 40, `wins ${wins}`);
    const cur = await first.getCurrent("1234567890");
    assert.equal(cur.generation, total);
    const rows = await first.listTokens("1234567890");
    assert.equal(rows.length, total, "losing commits wrote nothing");
    assert.deepEqual(rows.map((r) => r.generation).sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i + 1));
    assert.equal(rows.filter((r) => r.state === "valid").length, 1);
    await first.close();
  });

  it("a closed store fails typed", async () => {
    const store = new SqliteStore({ path: join(dir, "closed.db") });
    await store.migrate();
    await store.close();
    await assert.rejects(store.getMeta("x"), StoreError);
  });

  it("an empty file is refused as not a kagiya store (ERR_STORE_NOT_KAGIYA) and left empty; a file kagiya creates is taken", async () => {
    const path = join(dir, "empty.db");
    writeFileSync(path, "");
    assert.throws(() => new SqliteStore({ path }), (e: unknown) => e instanceof StoreError && e.code === "ERR_STORE_NOT_KAGIYA" && e.message.includes(path) && /not a kagiya store/.test(e.message));
    assert.equal(statSync(path).size, 0);
    assert.equal(existsSync(`${path}-wal`), false);
    const fresh = join(dir, "fresh.db");
    const store = new SqliteStore({ path: fresh });
    assert.ok(statSync(fresh).size > 0, "kagiya's own new file is never empty once opened");
    await store.migrate();
    await store.close();
    const again = new SqliteStore({ path: fresh });
    await again.migrate();
    await again.close();
  });

  it("the CLI refuses an empty store file in one line, exit 2, and writes nothing to it", async () => {
    const path = join(dir, "empty-cli.db");
    writeFileSync(path, "");
    for (const args of [["channel", "list"], ["audit"], ["apikey", "list"]]) {
      const r = await runCli(args, { cwd: dir, env: { KAGIYA_DB: path, KAGIYA_MASTER_KEY: generateMasterKeyText() } });
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, /empty\.db|empty-cli\.db/);
      assert.match(r.stderr, /not a kagiya store/);
      assert.equal(statSync(path).size, 0, `${args.join(" ")} wrote to the file`);
    }
  });
});
