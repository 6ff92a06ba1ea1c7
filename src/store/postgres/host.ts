// What the PostgreSQL store's role objects (./credentials.ts, ./tokens.ts, …) need of the store.
import type pg from "pg";
import type { SqlRow } from "../common.ts";
import type { Statements } from "./statements.ts";

/** Runs one statement (named ones are prepared once per connection), failing with the store's error. */
export type PostgresQuery = (what: string, text: string, values?: unknown[], name?: string) => Promise<pg.QueryResult<SqlRow>>;

/** The store's pool, transaction helper and schema, as its roles use them. */
export interface PostgresHost {
  q: PostgresQuery;
  /** Runs `fn` in a transaction on one pooled client, failing with the store's error. */
  tx<T>(what: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T>;
  /** The quoted schema name (`"kagiya"`), to put before table names. */
  s: string;
  /** The statements sent by name, for this schema. */
  sql: Statements;
}
