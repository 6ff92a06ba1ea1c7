import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { InvalidInputError } from "../core/errors.ts";
import { redactSpec } from "./common.ts";
import { MemoryStore } from "./memory.ts";
import { SqliteStore } from "./sqlite/store.ts";
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
}


const USAGE = "use sqlite:PATH, memory:, redis://HOST:PORT[/DB][?prefix=P], rediss://…, or postgres://USER@HOST:PORT/DB[?schema=S]";

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

/**
 * Opens (and by default migrates) the store a spec names:
 * `sqlite:PATH`, `memory:`, `redis://…` / `rediss://…` (optional `?prefix=`, default `kagiya:`),
 * `postgres://…` / `postgresql://…` (optional `?schema=`, default `kagiya`).
 * Without a spec: `DATABASE_URL`, then `REDIS_URL`, then the SQLite file `KAGIYA_DB` or
 * `./kagiya.db`. A bad spec throws InvalidInputError; an unreachable server throws StoreError
 * `ERR_STORE_UNAVAILABLE` within a few seconds. Redis and PostgreSQL drivers load only when used.
 *
 * @example
 * ```ts
 * const store = await openStore(flags.store, process.env); // e.g. "redis://127.0.0.1:6379"
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
      store = new SqliteStore({ path });
      break;
    }
    case "redis": {
      const { RedisStore } = await import("./redis/store.ts");
      store = await RedisStore.connect({ url: parsed.url, ...(parsed.prefix !== undefined ? { prefix: parsed.prefix } : {}) });
      break;
    }
    case "postgres": {
      const { PostgresStore } = await import("./postgres/store.ts");
      store = await PostgresStore.connect({ url: parsed.url, ...(parsed.schema !== undefined ? { schema: parsed.schema } : {}) });
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
