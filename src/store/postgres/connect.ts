// Connecting to PostgreSQL and naming its failures for the PostgreSQL store.
import pg from "pg";
import { isDiskFull, StoreError, storeFull } from "../errors.ts";
import type { PostgresStoreOptions } from "./store.ts";

const SERVER_GONE = /^(08[0-9A-Z]{3}|57P0[1-3]|53300)$/;
const UNAVAILABLE = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|timeout|Connection terminated|connect/i;

/** A pool whose first connection succeeded (StoreError ERR_STORE_UNAVAILABLE within the connect timeout otherwise). */
export async function connectPool(url: string, where: string, options: PostgresStoreOptions): Promise<pg.Pool> {
  const pool = new pg.Pool({
    connectionString: url,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 3_000,
    max: options.poolSize ?? 10,
    idleTimeoutMillis: 30_000,
    // Nothing waits forever: a statement (or a lock wait) and a frozen holder of an open
    // transaction are cut off by the server, so one stalled process cannot block the others.
    statement_timeout: options.statementTimeoutMs ?? 15_000,
    idle_in_transaction_session_timeout: options.statementTimeoutMs ?? 15_000,
  });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on("error", () => {});
  try {
    const c = await pool.connect();
    c.release();
  } catch (error) {
    await pool.end().catch(() => {});
    const e = error as Error & { code?: string };
    const auth = e.code === "28P01" || e.code === "28000" || e.code === "3D000";
    const hint = auth ? "check the user, password and database name in the URL" : "is the server running? check DATABASE_URL";
    throw new StoreError(`cannot reach PostgreSQL at ${where}: ${auth ? e.message.split("\n")[0] : (e.code ?? e.message.split("\n")[0])} (${hint})`, {
      code: "ERR_STORE_UNAVAILABLE",
      cause: error,
    });
  }
  return pool;
}

/** A driver error as a one-line StoreError: ERR_STORE_UNAVAILABLE when the server is out of reach, ERR_STORE_FULL when its disk is full, else ERR_STORE. */
export function postgresFailure(where: string, closed: boolean, what: string, error: unknown): StoreError {
  if (error instanceof StoreError) return error;
  if (isDiskFull(error)) return storeFull("PostgreSQL", what, error);
  const e = error as Error & { code?: string };
  const msg = `${e.code ?? ""} ${e.message ?? ""}`;
  // SQLSTATE 08xxx (connection exception), 57P01–57P03 (shut down by an operator or a crash, or
  // still starting up) and 53300 (too many connections) pass when the server is back.
  const down = closed || SERVER_GONE.test(e.code ?? "") || (!/^[0-9A-Z]{5}$/.test(e.code ?? "") && UNAVAILABLE.test(msg));
  return new StoreError(
    down ? `PostgreSQL at ${where} is unavailable (${what}): ${(e.message ?? String(e)).split("\n")[0]}` : `PostgreSQL store: ${what} failed: ${(e.message ?? String(e)).split("\n")[0]}`,
    { code: down ? "ERR_STORE_UNAVAILABLE" : "ERR_STORE", cause: error },
  );
}
