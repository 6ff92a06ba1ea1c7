// The PostgreSQL store's prepared statements, by name (`S` is the quoted schema). Tables: ./migrations.ts.

/** The statements sent by name (prepared once per connection) for a schema. */
export function statements(S: string) {
  return {
    getCurrent: `SELECT c.channel_id AS current_channel_id, c.generation AS current_generation, t.* FROM ${S}.current_tokens c
      LEFT JOIN ${S}.tokens t ON t.channel_id = c.channel_id AND t.key_id = c.key_id WHERE c.channel_id = $1`,
    getCurrentMany: `SELECT c.channel_id AS current_channel_id, c.generation AS current_generation, t.* FROM ${S}.current_tokens c
      LEFT JOIN ${S}.tokens t ON t.channel_id = c.channel_id AND t.key_id = c.key_id WHERE c.channel_id = ANY($1::text[])`,
    putToken: `INSERT INTO ${S}.tokens (channel_id, key_id, access_token, generation, state, issued_at, expires_at, refresh_at, revoke_at, updated_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
      ON CONFLICT (channel_id, key_id) DO UPDATE SET access_token = EXCLUDED.access_token, generation = EXCLUDED.generation,
      state = EXCLUDED.state, issued_at = EXCLUDED.issued_at, expires_at = EXCLUDED.expires_at, refresh_at = EXCLUDED.refresh_at,
      revoke_at = EXCLUDED.revoke_at, updated_at = EXCLUDED.updated_at`,
    tryLock: `INSERT INTO ${S}.locks AS l (name, owner, expires_at) VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond')
      ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at WHERE l.expires_at <= clock_timestamp()
      RETURNING owner`,
    markOnce: `INSERT INTO ${S}.dedup AS d (key, expires_at) VALUES ($1, clock_timestamp() + $2 * interval '1 millisecond')
      ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE d.expires_at <= clock_timestamp()
      RETURNING key`,
    markMany: `INSERT INTO ${S}.dedup AS d (key, expires_at)
      SELECT u.key, clock_timestamp() + u.ttl * interval '1 millisecond' FROM unnest($1::text[], $2::float8[]) AS u(key, ttl) ORDER BY u.key
      ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE d.expires_at <= clock_timestamp()
      RETURNING key`,
    putChannel: `INSERT INTO ${S}.channels (channel_id, kind, kid, private_key, channel_secret, policy, settings, secrets, created_at, updated_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
      ON CONFLICT (channel_id) DO UPDATE SET kind = EXCLUDED.kind, kid = EXCLUDED.kid, private_key = EXCLUDED.private_key,
      channel_secret = EXCLUDED.channel_secret, policy = EXCLUDED.policy, settings = EXCLUDED.settings, secrets = EXCLUDED.secrets,
      created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at`,
    // Compare-and-set of one further secret inside the JSON text (a name may hold any character).
    replaceSecret: `UPDATE ${S}.channels SET secrets = jsonb_set(secrets::jsonb, ARRAY[$2::text], to_jsonb($3::text))::text
      WHERE channel_id = $1 AND secrets::jsonb ->> $2::text = $4`,
    setIntent: `INSERT INTO ${S}.issue_intents (credential_id, owner, at) VALUES ($1, $2, $3)
      ON CONFLICT (credential_id) DO UPDATE SET owner = EXCLUDED.owner, at = EXCLUDED.at`,
    setBackoff: `INSERT INTO ${S}.backoffs (credential_id, retry_at, code, message) VALUES ($1, $2, $3, $4)
      ON CONFLICT (credential_id) DO UPDATE SET retry_at = EXCLUDED.retry_at, code = EXCLUDED.code, message = EXCLUDED.message`,
    // Compare-and-set on the version: an insert when there is none yet (0), else a guarded update.
    insertGrant: `INSERT INTO ${S}.grants (credential_id, secret, version, status, updated_at) VALUES ($1, $2, 1, $3, $4)
      ON CONFLICT (credential_id) DO NOTHING`,
    updateGrant: `UPDATE ${S}.grants SET secret = $2, version = version + 1, status = $3, updated_at = $4
      WHERE credential_id = $1 AND version = $5`,
  };
}

export type Statements = ReturnType<typeof statements>;
