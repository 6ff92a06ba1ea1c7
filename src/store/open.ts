import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { InvalidInputError } from "../core/errors.ts";
import { redactSpec } from "./common.ts";
import { StoreError } from "./errors.ts";
import { MemoryStore } from "./memory.ts";
import { parseSentinelUrl, SENTINEL_SCHEME } from "./redis/sentinel-url.ts";
import type { SqliteStoreOptions } from "./sqlite/store.ts";
import type { Store } from "./types.ts";

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  /** Run migrations after opening (default true). */
  migrate?: boolean;
  /** Base for a relative SQLite path (default process.cwd()). */
  cwd?: string;
  /**
   * Refuse to create a SQLite file that is not there yet (default false): commands that only read
   * or change existing channels must not leave an empty database behind after a typo.
   */
  mustExist?: boolean;
  /** SQLite options other than the path (busy timeout, clock), for a `sqlite:` store. */
  sqlite?: Omit<SqliteStoreOptions, "path">;
  /** For a `redis://` store: `RedisStoreOptions` but the URL; the URL's `?prefix=` wins. */
  redis?: RedisOpenOptions;
  /** For a `postgres://` store: `PostgresStoreOptions` but the URL; the URL's `?schema=` wins. */
  postgres?: PostgresOpenOptions;
}

// Spelled out rather than taken from ./redis.ts and ./postgres.ts: those modules' declarations
// import the optional drivers' types, which a user of SQLite alone does not have installed.
// Passing these to the stores' connect() checks that they stay compatible.

/** Redis options of {@link OpenStoreOptions} (see `RedisStoreOptions` in `kagiya/store/redis`). */
export interface RedisOpenOptions {
  /** Prefix of every key (default `kagiya:`). */
  prefix?: string;
  /** Connect timeout, ms (default 2000). */
  connectTimeoutMs?: number;
  /** Per-command timeout, ms (default 5000). */
  commandTimeoutMs?: number;
  /** For a `redis+sentinel://` URL: the sentinels' own ACL user, when they require one. */
  sentinelUsername?: string;
  /** For a `redis+sentinel://` URL: the sentinels' own password (`requirepass` of the sentinels). */
  sentinelPassword?: string;
}

/** PostgreSQL options of {@link OpenStoreOptions} (see `PostgresStoreOptions` in `kagiya/store/postgres`). */
export interface PostgresOpenOptions {
  /** Schema holding kagiya's tables (default `kagiya`). */
  schema?: string;
  /** Connect timeout, ms (default 3000). */
  connectTimeoutMs?: number;
  /** Pool size (default 10). */
  poolSize?: number;
  /** Server-side limit of one statement and of an idle open transaction, ms (default 15000). */
  statementTimeoutMs?: number;
  /** getCurrent batches in flight at once (default 2). */
  readBatches?: number;
}

/**
 * Loads a store module whose driver is an optional peer dependency (ioredis, pg): when the
 * driver is not installed, one line names the package to install instead of a module trace.
 */
async function loadDriver<T>(load: () => Promise<T>, pkg: string, kind: string): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === "ERR_MODULE_NOT_FOUND" && (error as Error).message.includes(`'${pkg}'`)) {
      throw new StoreError(`the ${kind} store needs the ${pkg} package: npm install ${pkg}`, { code: "ERR_STORE_DRIVER_MISSING" });
    }
    throw error;
  }
}


const USAGE = "use sqlite:PATH, memory:, redis://HOST:PORT[/DB][?prefix=P], rediss://…, redis+sentinel://HOST:PORT[,HOST:PORT…]/MASTER[/DB][?prefix=P], or postgres://USER@HOST:PORT/DB[?schema=S]";

/**
 * Which backend a spec names, and its parameters; throws InvalidInputError for a bad spec
 * (the message never shows a password).
 *
 * @example
 * ```ts
 * parseStoreSpec("redis://127.0.0.1:6379?prefix=app:"); // { kind: "redis", url: "redis://127.0.0.1:6379", prefix: "app:" }
 * ```
 */
export function parseStoreSpec(spec: string): { kind: "sqlite"; path: string } | { kind: "memory" } | { kind: "redis"; url: string; prefix?: string } | { kind: "postgres"; url: string; schema?: string } {
  const s = spec.trim();
  if (s === "memory:" || s === "memory") return { kind: "memory" };
  if (s.startsWith("sqlite:")) {
    const path = s.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "");
    if (path === "") throw new InvalidInputError(`store spec "sqlite:" needs a file path, e.g. sqlite:./kagiya.db`, { field: "--store" });
    return { kind: "sqlite", path };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(s)?.[1]?.toLowerCase();
  if (scheme === "redis+sentinel") return parseSentinelSpec(s);
  if (scheme === "redis" || scheme === "rediss" || scheme === "postgres" || scheme === "postgresql") {
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      throw new InvalidInputError(`store URL ${redactSpec(s)} is not a valid URL (${USAGE})`, { field: "--store" });
    }
    if (url.hostname === "" && !url.searchParams.has("host")) {
      throw new InvalidInputError(`store URL ${redactSpec(s)} has no host (${USAGE})`, { field: "--store" });
    }
    if (scheme.startsWith("redis")) {
      const prefix = url.searchParams.get("prefix") ?? undefined;
      url.searchParams.delete("prefix");
      if (url.pathname !== "" && url.pathname !== "/" && !/^\/\d+$/.test(url.pathname)) {
        throw new InvalidInputError(`store URL ${redactSpec(s)}: the Redis database must be a number, e.g. redis://127.0.0.1:6379/0`, { field: "--store" });
      }
      return { kind: "redis", url: url.toString(), ...(prefix !== undefined ? { prefix } : {}) };
    }
    const schema = url.searchParams.get("schema") ?? undefined;
    url.searchParams.delete("schema");
    if (schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
      throw new InvalidInputError(`store URL ${redactSpec(s)}: schema must be letters, digits and _ (at most 63)`, { field: "--store" });
    }
    return { kind: "postgres", url: url.toString(), ...(schema !== undefined ? { schema } : {}) };
  }
  throw new InvalidInputError(`unknown store "${redactSpec(s).slice(0, 80)}": ${USAGE}`, { field: "--store" });
}

/** A `redis+sentinel://` spec: checked here (one line for a bad one), parsed again by RedisStore.connect. */
function parseSentinelSpec(s: string): { kind: "redis"; url: string; prefix?: string } {
  const q = s.indexOf("?");
  const params = new URLSearchParams(q === -1 ? "" : s.slice(q + 1).replace(/#.*$/s, ""));
  const unknown = [...params.keys()].find((k) => k !== "prefix");
  if (unknown !== undefined) {
    throw new InvalidInputError(`store URL ${redactSpec(s)}: unknown parameter "${unknown.slice(0, 40)}" (a redis+sentinel:// URL takes only ?prefix=)`, { field: "--store" });
  }
  const url = SENTINEL_SCHEME + (q === -1 ? s : s.slice(0, q)).slice(SENTINEL_SCHEME.length);
  parseSentinelUrl(url);
  const prefix = params.get("prefix") ?? undefined;
  return { kind: "redis", url, ...(prefix !== undefined ? { prefix } : {}) };
}

/**
 * Opens (and by default migrates) the store a spec names:
 * `sqlite:PATH`, `memory:`, `redis://…` / `rediss://…` (optional `?prefix=`, default `kagiya:`),
 * `redis+sentinel://HOST:PORT[,HOST:PORT…]/MASTER[/DB]` (the master found through Redis Sentinel),
 * `postgres://…` / `postgresql://…` (optional `?schema=`, default `kagiya`).
 * Without a spec: `DATABASE_URL`, then `REDIS_URL`, then the SQLite file `KAGIYA_DB` or
 * `./kagiya.db`. A bad spec throws InvalidInputError; an unreachable server throws StoreError
 * `ERR_STORE_UNAVAILABLE` within a few seconds. Every driver (node:sqlite, ioredis, pg) loads
 * only when its store is opened; ioredis and pg are optional peer dependencies, and a missing one
 * throws StoreError `ERR_STORE_DRIVER_MISSING` naming the package.
 *
 * @example
 * ```ts
 * const store = await openStore("redis://127.0.0.1:6379", {}, { redis: { prefix: "app:", commandTimeoutMs: 2000 } });
 * try { console.log((await store.getCurrent("1234567890")).generation); } finally { await store.close(); }
 * ```
 */
export async function openStore(spec?: string, env: Record<string, string | undefined> = process.env, options: OpenStoreOptions = {}): Promise<Store> {
  const chosen = spec !== undefined && spec !== "" ? spec : env["DATABASE_URL"] || env["REDIS_URL"] || `sqlite:${env["KAGIYA_DB"] || "./kagiya.db"}`;
  const parsed = parseStoreSpec(chosen);
  let store: Store;
  switch (parsed.kind) {
    case "memory":
      store = new MemoryStore();
      break;
    case "sqlite": {
      const path = parsed.path === ":memory:" || isAbsolute(parsed.path) ? parsed.path : resolve(options.cwd ?? process.cwd(), parsed.path);
      if (options.mustExist && path !== ":memory:" && !existsSync(path)) {
        throw new InvalidInputError(`no kagiya store at ${path}: register a channel first (kagiya channel add), or name the store with --store or KAGIYA_DB`, { code: "ERR_STORE_NOT_FOUND" });
      }
      const { SqliteStore } = await import("./sqlite/store.ts");
      store = new SqliteStore({ ...options.sqlite, path });
      break;
    }
    case "redis": {
      const { RedisStore } = await loadDriver(() => import("./redis/store.ts"), "ioredis", "Redis");
      store = await RedisStore.connect({ ...options.redis, url: parsed.url, ...(parsed.prefix !== undefined ? { prefix: parsed.prefix } : {}) });
      break;
    }
    case "postgres": {
      const { PostgresStore } = await loadDriver(() => import("./postgres/store.ts"), "pg", "PostgreSQL");
      store = await PostgresStore.connect({ ...options.postgres, url: parsed.url, ...(parsed.schema !== undefined ? { schema: parsed.schema } : {}) });
      break;
    }
  }
  if (options.migrate !== false) {
    try {
      await store.migrate();
    } catch (error) {
      await store.close().catch(() => {});
      throw error;
    }
  }
  return store;
}
