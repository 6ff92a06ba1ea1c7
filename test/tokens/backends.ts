// The shared stores the token tests run on: SQLite always; Redis and PostgreSQL when reachable
// (skipped with a loud notice otherwise, unless KAGIYA_REQUIRE_SERVICES=1 makes that a failure).
// Each backend is isolated per test process: a fresh SQLite file, a random Redis key prefix, a
// random PostgreSQL schema, all removed afterwards.
import { after } from "node:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../../src/store/open.ts";
import type { Store } from "../../src/store/types.ts";

/** A backend the tests can open stores on: every `open()` gives a store on the same data. */
export interface Backend {
  name: "sqlite" | "redis" | "postgres";
  /** Why the backend is skipped, or false. */
  skip: string | false;
  /** The `--store` spec for the CLI and child processes. */
  spec: string;
  /** Opens (and migrates) another connection to the same data (processes sharing a store). */
  open(): Promise<Store>;
}

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups) await c().catch(() => {});
});

function unreachable(name: string, error: unknown): string {
  const why = `${name} unreachable (${(error as Error).message.split("\n")[0]})`;
  if (process.env["KAGIYA_REQUIRE_SERVICES"] === "1") throw new Error(`${why} and KAGIYA_REQUIRE_SERVICES=1`);
  process.stderr.write(`\n!!! SKIPPING ${name} token tests: ${why}. Start it or set KAGIYA_REQUIRE_SERVICES=1 to make this a failure.\n\n`);
  return why;
}

const rand = (): string => randomBytes(6).toString("hex");

/** A fresh SQLite database file in a temporary directory. */
export function sqliteBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), "kagiya-tokens-"));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const spec = `sqlite:${join(dir, "kagiya.db")}`;
  return { name: "sqlite", skip: false, spec, open: () => openStore(spec) };
}

/** Redis under a random key prefix, or a skipped backend. */
export async function redisBackend(): Promise<Backend> {
  const base = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379";
  const prefix = `kagiya-test-${rand()}:`;
  const spec = `${base}${base.includes("?") ? "&" : "?"}prefix=${encodeURIComponent(prefix)}`;
  const open = (): Promise<Store> => openStore(spec);
  try {
    const s = (await open()) as Store & { client: { keys(p: string): Promise<string[]>; del(...k: string[]): Promise<number> } };
    cleanups.push(async () => {
      const keys = await s.client.keys(`${prefix}*`);
      if (keys.length) await s.client.del(...keys);
      await s.close();
    });
  } catch (error) {
    return { name: "redis", skip: unreachable("Redis", error), spec, open };
  }
  return { name: "redis", skip: false, spec, open };
}

/** PostgreSQL in a random schema of the `test` database, or a skipped backend. */
export async function postgresBackend(): Promise<Backend> {
  const base = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";
  const schema = `kagiya_test_${rand()}`;
  const spec = `${base}${base.includes("?") ? "&" : "?"}schema=${schema}`;
  const open = (): Promise<Store> => openStore(spec);
  try {
    const s = (await open()) as Store & { pool: { query(q: string): Promise<unknown> } };
    cleanups.push(async () => {
      await s.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await s.close();
    });
  } catch (error) {
    return { name: "postgres", skip: unreachable("PostgreSQL", error), spec, open };
  }
  return { name: "postgres", skip: false, spec, open };
}

/** Every backend, in the order the tests run them. */
export async function allBackends(): Promise<Backend[]> {
  return [sqliteBackend(), await redisBackend(), await postgresBackend()];
}
