// The PostgreSQL schema, as versioned migrations (`S` stands for the quoted schema). Each runs once,
// in its own transaction, under an advisory lock, recorded in S.schema_version; a schema with a
// version above the last one here is refused (ERR_STORE_SCHEMA).
//
// Tables (v2): meta(name, value) · channels(channel_id, kind, kid, private_key, channel_secret,
// policy, settings, secrets, created_at, updated_at; policy/settings/secrets are JSON text, secrets
// sealed per value) · current_tokens(channel_id, generation, key_id) · tokens(channel_id, key_id,
// access_token, generation, state, issued_at, expires_at, refresh_at, revoke_at, updated_at) ·
// locks(name, owner, expires_at timestamptz) · dedup(key, expires_at timestamptz) · api_keys ·
// audit · issue_intents(credential_id, owner, at) · backoffs(credential_id, retry_at, code, message).
// v3 adds inbox(key, payload, seq, accepted_at, expires_at, owner, lease_until, attempts, finished_at),
// the webhook inbox; v4 adds grants(credential_id, secret, version, status, updated_at): sealed refresh
// tokens, written by compare-and-set on version. Times are epoch ms (bigint), except lock and mark expiry, judged on the server's clock.
import type pg from "pg";
import { legacyCoordination, type SqlRow } from "../common.ts";

export interface PostgresMigration {
  version: number;
  sql: string;
  /** Data steps after the DDL, in the same transaction (`s` is the quoted schema). */
  after?: (c: pg.PoolClient, s: string) => Promise<void>;
}

export const MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE S.meta (name text PRIMARY KEY, value text NOT NULL);
      CREATE TABLE S.channels (
        channel_id text PRIMARY KEY, kid text NOT NULL, private_key text NOT NULL, channel_secret text NOT NULL,
        policy text NOT NULL, created_at bigint NOT NULL, updated_at bigint NOT NULL);
      CREATE TABLE S.current_tokens (channel_id text PRIMARY KEY, generation bigint NOT NULL, key_id text);
      CREATE TABLE S.tokens (
        channel_id text NOT NULL, key_id text NOT NULL, access_token text, generation bigint NOT NULL, state text NOT NULL,
        issued_at bigint NOT NULL, expires_at bigint NOT NULL, refresh_at bigint NOT NULL, revoke_at bigint,
        updated_at bigint NOT NULL, PRIMARY KEY (channel_id, key_id));
      CREATE TABLE S.locks (name text PRIMARY KEY, owner text NOT NULL, expires_at timestamptz NOT NULL);
      CREATE TABLE S.dedup (key text PRIMARY KEY, expires_at timestamptz NOT NULL);
      CREATE INDEX dedup_expires ON S.dedup (expires_at);
      CREATE TABLE S.api_keys (
        id text PRIMARY KEY, name text NOT NULL, hash text NOT NULL UNIQUE, channels text NOT NULL,
        created_at bigint NOT NULL, revoked_at bigint, last_used_at bigint);
      CREATE TABLE S.audit (
        id bigserial PRIMARY KEY, at bigint NOT NULL, action text NOT NULL, actor text NOT NULL,
        channel_id text, key_id text, detail text);
      CREATE INDEX audit_channel ON S.audit (channel_id, id);
    `,
  },
  {
    // Credentials of several kinds; the token engine's coordination state typed, out of meta.
    version: 2,
    sql: `
      ALTER TABLE S.channels ADD COLUMN kind text NOT NULL DEFAULT 'line-v2.1',
        ADD COLUMN settings text NOT NULL DEFAULT '{}', ADD COLUMN secrets text NOT NULL DEFAULT '{}';
      CREATE TABLE S.issue_intents (credential_id text PRIMARY KEY, owner text NOT NULL, at bigint NOT NULL);
      CREATE TABLE S.backoffs (credential_id text PRIMARY KEY, retry_at bigint NOT NULL, code text NOT NULL, message text NOT NULL);
    `,
    after: async (c, s) => {
      // The meta rows stay: until the engine reads the typed store, it still reads them.
      const { intents, backoffs } = legacyCoordination((await c.query<SqlRow>(`SELECT name, value FROM ${s}.meta WHERE left(name, 7) = 'tokens.'`)).rows);
      for (const [id, v] of intents) await c.query(`INSERT INTO ${s}.issue_intents (credential_id, owner, at) VALUES ($1, $2, $3)`, [id, v.owner, v.at]);
      for (const [id, v] of backoffs) await c.query(`INSERT INTO ${s}.backoffs (credential_id, retry_at, code, message) VALUES ($1, $2, $3, $4)`, [id, v.retryAt, v.code, v.message]);
    },
  },
  {
    // The durable webhook inbox (store role InboxStore); claims take unfinished rows in seq order.
    version: 3,
    sql: `
      CREATE TABLE S.inbox (
        key text PRIMARY KEY, payload text NOT NULL, seq bigserial NOT NULL, accepted_at bigint NOT NULL, expires_at bigint NOT NULL,
        owner text, lease_until bigint NOT NULL DEFAULT 0, attempts integer NOT NULL DEFAULT 0, finished_at bigint);
      CREATE INDEX inbox_open ON S.inbox (seq) WHERE finished_at IS NULL;
      CREATE INDEX inbox_done ON S.inbox (expires_at) WHERE finished_at IS NOT NULL;
    `,
  },
  {
    // Grants (store role GrantStore): one sealed refresh token (and its data) per credential.
    version: 4,
    sql: `
      CREATE TABLE S.grants (
        credential_id text PRIMARY KEY, secret text NOT NULL, version bigint NOT NULL, status text NOT NULL, updated_at bigint NOT NULL);
    `,
  },
];

/** The schema version this code writes. */
export const POSTGRES_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
