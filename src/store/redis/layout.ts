/**
 * The Redis key layout, in one place. Every key begins with the store's prefix (default
 * `kagiya:`); `<id>` is a credential (channel) ID.
 *
 * | key | type | holds |
 * |---|---|---|
 * | `layout` | string | the layout version ({@link REDIS_LAYOUT_VERSION}) |
 * | `meta` | hash | meta name → value (the master-key check among them) |
 * | `chids` | set | every channel ID |
 * | `ch:<id>` | hash | channelId, kind, kid, privateKey, channelSecret, policy (JSON), settings (JSON), `secrets.<name>` per further sealed secret, createdAt, updatedAt |
 * | `cur:<id>` | hash | gen (current generation), key (current key ID) |
 * | `tokch` | set | channel IDs that have token rows |
 * | `tokids:<id>` | set | key IDs of the channel's token rows |
 * | `tok:<len(id)>:<id>:<keyId>` | hash | one token row (length-prefixed so no two (channel, keyId) pairs collide) |
 * | `lock:<name>` | string | lock owner, with PX expiry |
 * | `once:<key>` | string | "1", with PX expiry (webhook marks) |
 * | `akids` | set | API key IDs |
 * | `ak:<id>` | hash | one API key row |
 * | `akhash` | hash | key hash → API key ID |
 * | `audit:seq` | string | last audit ID |
 * | `audit:rows` | hash | audit ID → row JSON |
 * | `audit`, `audit:ch:<id>` | list | audit IDs, newest first (all, per channel) |
 * | `intent:<id>` | hash | owner, at (issue intent) — layout 2 |
 * | `backoff:<id>` | hash | retryAt, code, message (shared backoff) — layout 2 |
 * | `ibx:e:<key>` | hash | one inbox event: payload, at (accepted), exp (end of its window), n (claims), m (its `ibx:due` member), owner, done (finished at) — layout 3 |
 * | `ibx:due` | sorted set | unfinished events: score = lease end (0 = free), member `<16-digit seq>:<key>` — layout 3 |
 * | `ibx:done` | sorted set | finished events: score = end of the window, member = key — layout 3 |
 * | `ibx:seq` | string | last inbox sequence number — layout 3 |
 * | `grant:<id>` | hash | secret (sealed), version, status, updatedAt: the credential's grant — layout 4 |
 * | `grantids` | set | credential IDs that have a grant (for master-key rotation) — layout 4 |
 *
 * Layouts: 1 (kagiya 0.1); 2 adds channel kind/settings/secrets (absent fields read as
 * "line-v2.1", {}, {}) and the typed coordination keys, copied from the 0.1 meta fields
 * `tokens.issuing.<id>` / `tokens.backoff.<id>` by one atomic upgrade script (./scripts.ts); 3 adds
 * the webhook inbox keys (nothing to copy: the version alone moves, ./inbox.ts); 4 adds the grant
 * keys (likewise nothing to copy: ./grants.ts).
 *
 * @module
 */

/** Key-layout version this code writes (stored at `<prefix>layout`). */
export const REDIS_LAYOUT_VERSION = 4;

/** Key names under one prefix. */
export class RedisKeys {
  readonly prefix: string;
  constructor(prefix: string) {
    this.prefix = prefix;
  }
  k(s: string): string {
    return this.prefix + s;
  }
  channel(id: string): string {
    return `${this.prefix}ch:${id}`;
  }
  current(id: string): string {
    return `${this.prefix}cur:${id}`;
  }
  tokBase(channelId: string): string {
    return `${this.prefix}tok:${channelId.length}:${channelId}:`;
  }
  tokIds(channelId: string): string {
    return `${this.prefix}tokids:${channelId}`;
  }
  intent(id: string): string {
    return `${this.prefix}intent:${id}`;
  }
  backoff(id: string): string {
    return `${this.prefix}backoff:${id}`;
  }
  grant(id: string): string {
    return `${this.prefix}grant:${id}`;
  }
  grantIds(): string {
    return `${this.prefix}grantids`;
  }
}
