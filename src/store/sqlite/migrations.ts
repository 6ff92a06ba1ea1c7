// The SQLite schema, as versioned migrations. Each runs once, in its own transaction, recorded in
// schema_version; a file with a version above the last one here is refused (ERR_STORE_SCHEMA).
//
// Tables (v2): meta(name, value) · channels(channel_id, kind, kid, private_key, channel_secret,
// policy, settings, secrets, created_at, updated_at; policy/settings/secrets are JSON text, secrets
// sealed per value) · current_tokens(channel_id, generation, key_id) · tokens(channel_id, key_id,
// access_token, generation, state, issued_at, expires_at, refresh_at, revoke_at, updated_at) ·
// locks(name, owner, expires_at) · dedup(key, expires_at) · api_keys · audit · issue_intents
// (credential_id, owner, at) · backoffs(credential_id, retry_at, code, message) · (v3) inbox(key,
// payload, accepted_at, expires_at, owner, lease_until, attempts, finished_at): the webhook inbox ·
// (v4) grants(credential_id, secret, version, status, updated_at): refresh tokens, sealed, CAS on version.
import type { DatabaseSync } from "node:sqlite";
import { legacyCoordination } from "../common.ts";

export interface SqliteMigration {
  version: number;
  sql: string;
  /** Data steps after the DDL, in the same transaction. */
  after?: (db: DatabaseSync) => void;
}

export const MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE channels (
        channel_id TEXT PRIMARY KEY, kid TEXT NOT NULL, private_key TEXT NOT NULL, channel_secret TEXT NOT NULL,
        policy TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
      CREATE TABLE current_tokens (channel_id TEXT PRIMARY KEY, generation INTEGER NOT NULL, key_id TEXT);
      CREATE TABLE tokens (
        channel_id TEXT NOT NULL, key_id TEXT NOT NULL, access_token TEXT, generation INTEGER NOT NULL,
        state TEXT NOT NULL, issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, refresh_at INTEGER NOT NULL,
        revoke_at INTEGER, updated_at INTEGER NOT NULL, PRIMARY KEY (channel_id, key_id));
      CREATE TABLE locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL);
      CREATE TABLE dedup (key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
      CREATE INDEX dedup_expires ON dedup (expires_at);
      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, channels TEXT NOT NULL,
        created_at INTEGER NOT NULL, revoked_at INTEGER, last_used_at INTEGER);
      CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, action TEXT NOT NULL, actor TEXT NOT NULL,
        channel_id TEXT, key_id TEXT, detail TEXT);
      CREATE INDEX audit_channel ON audit (channel_id, id);
    `,
  },
  {
    // Credentials of several kinds; the token engine's coordination state typed, out of meta.
    version: 2,
    sql: `
      ALTER TABLE channels ADD COLUMN kind TEXT NOT NULL DEFAULT 'line-v2.1';
      ALTER TABLE channels ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
      ALTER TABLE channels ADD COLUMN secrets TEXT NOT NULL DEFAULT '{}';
      CREATE TABLE issue_intents (credential_id TEXT PRIMARY KEY, owner TEXT NOT NULL, at INTEGER NOT NULL);
      CREATE TABLE backoffs (credential_id TEXT PRIMARY KEY, retry_at INTEGER NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL);
    `,
    after: (db) => {
      // The meta rows stay: until the engine reads the typed store, it still reads them.
      const { intents, backoffs } = legacyCoordination(db.prepare("SELECT name, value FROM meta WHERE substr(name, 1, 7) = 'tokens.'").all());
      for (const [id, v] of intents) db.prepare("INSERT INTO issue_intents (credential_id, owner, at) VALUES (?, ?, ?)").run(id, v.owner, v.at);
      for (const [id, v] of backoffs) db.prepare("INSERT INTO backoffs (credential_id, retry_at, code, message) VALUES (?, ?, ?, ?)").run(id, v.retryAt, v.code, v.message);
    },
  },
  {
    // The durable webhook inbox (store role InboxStore); claims scan unfinished rows oldest first.
    version: 3,
    sql: `
      CREATE TABLE inbox (
        key TEXT PRIMARY KEY, payload TEXT NOT NULL, accepted_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
        owner TEXT, lease_until INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, finished_at INTEGER);
      CREATE INDEX inbox_open ON inbox (accepted_at) WHERE finished_at IS NULL;
      CREATE INDEX inbox_done ON inbox (expires_at) WHERE finished_at IS NOT NULL;
    `,
  },
  {
    // Grants (store role GrantStore): one sealed refresh token (and its data) per credential.
    version: 4,
    sql: `
      CREATE TABLE grants (
        credential_id TEXT PRIMARY KEY, secret TEXT NOT NULL, version INTEGER NOT NULL, status TEXT NOT NULL, updated_at INTEGER NOT NULL);
    `,
  },
];

/** The schema version this code writes. */
export const SQLITE_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
