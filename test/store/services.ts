// Reachability of the shared services the Redis and PostgreSQL suites need. When a server is
// missing the suite is skipped with a loud notice, unless KAGIYA_REQUIRE_SERVICES=1 (CI), where
// the suite runs and fails.
import { randomBytes } from "node:crypto";
import { PostgresStore } from "../../src/store/postgres/store.ts";
import { RedisStore } from "../../src/store/redis/store.ts";

export const REDIS_URL = process.env["REDIS_URL"] || "redis://127.0.0.1:6379";
export const DATABASE_URL = process.env["DATABASE_URL"] || "postgres://postgres@127.0.0.1:5432/test";

/** A random namespace so parallel test files never share keys or tables. */
export function randomNamespace(tag: string): string {
  return `kt_${tag}_${randomBytes(6).toString("hex")}`;
}

async function probe(name: string, connect: () => Promise<{ close(): Promise<void> }>): Promise<string | false> {
  try {
    const s = await connect();
    await s.close();
    return false;
  } catch (error) {
    if (process.env["KAGIYA_REQUIRE_SERVICES"] === "1") return false;
    const line = "*".repeat(78);
    console.error(`\n${line}\n*** SKIPPING the ${name} store tests: ${(error as Error).message}\n*** Start ${name} (or set KAGIYA_REQUIRE_SERVICES=1 to make this a failure).\n${line}\n`);
    return `${name} unreachable`;
  }
}

export function redisSkip(): Promise<string | false> {
  return probe("Redis", () => RedisStore.connect({ url: REDIS_URL, prefix: "kagiya-probe:" }));
}

export function postgresSkip(): Promise<string | false> {
  return probe("PostgreSQL", () => PostgresStore.connect({ url: DATABASE_URL, schema: "kagiya_probe" }));
}
