import { byIssuedDesc, channelSealedCells, cloneApiKey, cloneAudit, cloneChannel, cloneToken, newOwner, SEALED_META_PREFIX, SECRET_COLUMN_PREFIX, splitTokenRowKey, tokenRowKey } from "./common.ts";
import type { ApiKeyRow, AuditRow, ChannelRow, CredentialTokens, CurrentToken, GrantState, GrantWrite, InboxEvent, InboxLease, IssueIntent, Lock, Sealed, SealedCell, SharedBackoff, Store, TokenRow, TokenState } from "./types.ts";

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /** Clock for lock and markOnce expiry, epoch ms (default Date.now). */
  now?: () => number;
}

/**
 * A {@link Store} in process memory: for tests and single-process tools. Nothing survives the
 * process. Rows are copied in and out, so callers never share objects with the store.
 *
 * @example
 * ```ts
 * const store = new MemoryStore();
 * await store.migrate();
 * await store.setMeta("hello", "world");
 * ```
 */
export class MemoryStore implements Store {
  readonly kind = "memory";
  readonly #now: () => number;
  readonly #meta = new Map<string, string>();
  readonly #channels = new Map<string, ChannelRow>();
  readonly #tokens = new Map<string, Map<string, TokenRow>>();
  readonly #current = new Map<string, { generation: number; keyId: string | null }>();
  readonly #locks = new Map<string, { owner: string; expiresAt: number }>();
  readonly #once = new Map<string, number>();
  readonly #inbox = new Map<string, { payload: string; acceptedAt: number; expiresAt: number; owner: string | null; leaseUntil: number; attempts: number; finished: boolean }>();
  readonly #apiKeys = new Map<string, ApiKeyRow>();
  readonly #audit: AuditRow[] = [];
  readonly #intents = new Map<string, IssueIntent>();
  readonly #backoffs = new Map<string, SharedBackoff>();
  readonly #grants = new Map<string, GrantState>();
  #auditSeq = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  async migrate(): Promise<void> {}
  async ping(): Promise<void> {}
  async close(): Promise<void> {}

  async getMeta(name: string): Promise<string | null> {
    return this.#meta.get(name) ?? null;
  }
  async setMeta(name: string, value: string): Promise<void> {
    this.#meta.set(name, value);
  }

  async putChannel(row: ChannelRow): Promise<void> {
    this.#channels.set(row.channelId, cloneChannel(row));
  }
  async getChannel(channelId: string): Promise<ChannelRow | null> {
    const r = this.#channels.get(channelId);
    return r ? cloneChannel(r) : null;
  }
  async listChannels(): Promise<ChannelRow[]> {
    return [...this.#channels.values()].sort((a, b) => (a.channelId < b.channelId ? -1 : 1)).map(cloneChannel);
  }
  async getChannelVersions(channelIds: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const id of channelIds) {
      const r = this.#channels.get(id);
      if (r) out.set(id, r.updatedAt);
    }
    return out;
  }
  async listChannelIds(): Promise<string[]> {
    return [...this.#channels.keys()].sort((a, b) => (a < b ? -1 : 1));
  }
  async deleteChannel(channelId: string): Promise<boolean> {
    this.#tokens.delete(channelId);
    this.#current.delete(channelId);
    this.#intents.delete(channelId);
    this.#backoffs.delete(channelId);
    this.#grants.delete(channelId);
    return this.#channels.delete(channelId);
  }

  #tokenMap(channelId: string): Map<string, TokenRow> {
    let m = this.#tokens.get(channelId);
    if (!m) this.#tokens.set(channelId, (m = new Map()));
    return m;
  }

  async getCurrent(channelId: string): Promise<CurrentToken> {
    const cur = this.#current.get(channelId);
    if (!cur) return { generation: 0, token: null };
    const row = cur.keyId === null ? undefined : this.#tokens.get(channelId)?.get(cur.keyId);
    return { generation: cur.generation, token: row ? cloneToken(row) : null };
  }

  async commitToken(channelId: string, expectedGeneration: number, token: TokenRow, supersededRevokeAt: number): Promise<boolean> {
    const cur = this.#current.get(channelId) ?? { generation: 0, keyId: null };
    if (cur.generation !== expectedGeneration) return false;
    const tokens = this.#tokenMap(channelId);
    if (cur.keyId !== null && cur.keyId !== token.keyId) {
      const prev = tokens.get(cur.keyId);
      if (prev && prev.state === "valid") {
        tokens.set(prev.keyId, { ...prev, state: "superseded", revokeAt: supersededRevokeAt, updatedAt: token.updatedAt });
      }
    }
    const generation = expectedGeneration + 1;
    tokens.set(token.keyId, { ...token, channelId, generation });
    this.#current.set(channelId, { generation, keyId: token.keyId });
    return true;
  }

  async putToken(token: TokenRow): Promise<void> {
    this.#tokenMap(token.channelId).set(token.keyId, cloneToken(token));
  }
  async listTokens(channelId: string): Promise<TokenRow[]> {
    return [...(this.#tokens.get(channelId)?.values() ?? [])].map(cloneToken).sort(byIssuedDesc);
  }
  async listTokensMany(channelIds: readonly string[]): Promise<Map<string, CredentialTokens>> {
    const out = new Map<string, CredentialTokens>();
    for (const id of channelIds) out.set(id, { ...(await this.getCurrent(id)), rows: await this.listTokens(id) });
    return out;
  }
  async setTokenState(channelId: string, keyId: string, state: TokenState, revokeAt?: number | null, at?: number): Promise<boolean> {
    const tokens = this.#tokens.get(channelId);
    const row = tokens?.get(keyId);
    if (!tokens || !row) return false;
    tokens.set(keyId, { ...row, state, revokeAt: revokeAt === undefined ? row.revokeAt : revokeAt, updatedAt: at ?? Date.now() });
    return true;
  }
  async pruneTokens(channelId: string, before: number): Promise<number> {
    const tokens = this.#tokens.get(channelId);
    if (!tokens) return 0;
    let n = 0;
    for (const [k, r] of tokens) {
      if (r.expiresAt < before) {
        tokens.delete(k);
        n++;
      }
    }
    return n;
  }

  async tryLock(name: string, ttlMs: number): Promise<Lock | null> {
    const now = this.#now();
    const held = this.#locks.get(name);
    if (held && held.expiresAt > now) return null;
    const owner = newOwner();
    this.#locks.set(name, { owner, expiresAt: now + ttlMs });
    const locks = this.#locks;
    return {
      name,
      owner,
      async release() {
        if (locks.get(name)?.owner === owner) locks.delete(name);
      },
      extend: async (ms: number) => {
        const now = this.#now();
        const held = locks.get(name);
        if (held?.owner !== owner || held.expiresAt <= now) return false;
        held.expiresAt = now + ms;
        return true;
      },
    };
  }

  async markOnce(key: string, ttlMs: number): Promise<boolean> {
    return this.#markOnce(key, ttlMs, this.#now());
  }

  async markMany(keys: readonly string[], ttlMs: number): Promise<boolean[]> {
    const now = this.#now();
    return keys.map((key) => this.#markOnce(key, ttlMs, now));
  }

  #markOnce(key: string, ttlMs: number, now: number): boolean {
    const until = this.#once.get(key);
    if (until !== undefined && until > now) return false;
    this.#once.set(key, now + ttlMs);
    if (this.#once.size > 10_000) for (const [k, t] of this.#once) if (t <= now) this.#once.delete(k);
    return true;
  }

  async isMarked(key: string): Promise<boolean> {
    return (this.#once.get(key) ?? 0) > this.#now();
  }

  async acceptEvent(key: string, payload: string, ttlMs: number, now: number, lease?: InboxLease): Promise<boolean> {
    const row = this.#inbox.get(key);
    if (row && !(row.finished && row.expiresAt <= now)) return false;
    this.#inbox.delete(key); // re-inserted last, so the Map keeps acceptance order
    this.#inbox.set(key, {
      payload, acceptedAt: now, expiresAt: now + ttlMs, finished: false,
      owner: lease?.owner ?? null, leaseUntil: lease ? now + lease.leaseMs : 0, attempts: lease ? 1 : 0,
    });
    return true;
  }
  async claimEvents(owner: string, leaseMs: number, limit: number, now: number): Promise<InboxEvent[]> {
    const out: InboxEvent[] = [];
    for (const [key, row] of this.#inbox) {
      if (out.length >= limit) break;
      if (row.finished || row.leaseUntil > now) continue;
      row.owner = owner;
      row.leaseUntil = now + leaseMs;
      row.attempts++;
      out.push({ key, payload: row.payload, attempts: row.attempts, acceptedAt: row.acceptedAt });
    }
    return out;
  }
  async finishEvent(key: string, owner: string, _now: number): Promise<boolean> {
    const row = this.#inbox.get(key);
    if (!row || row.finished || row.owner !== owner) return false;
    row.finished = true;
    row.owner = null;
    return true;
  }
  async extendEvent(key: string, owner: string, leaseMs: number, now: number): Promise<boolean> {
    const row = this.#inbox.get(key);
    if (!row || row.finished || row.owner !== owner) return false;
    row.leaseUntil = now + leaseMs;
    return true;
  }
  async releaseEvent(key: string, owner: string): Promise<boolean> {
    const row = this.#inbox.get(key);
    if (!row || row.finished || row.owner !== owner) return false;
    row.owner = null;
    row.leaseUntil = 0;
    return true;
  }
  async pruneEvents(now: number): Promise<number> {
    let n = 0;
    for (const [key, row] of this.#inbox) {
      if (row.finished && row.expiresAt <= now) {
        this.#inbox.delete(key);
        n++;
      }
    }
    return n;
  }

  async putApiKey(row: ApiKeyRow): Promise<void> {
    this.#apiKeys.set(row.id, cloneApiKey(row));
  }
  async getApiKeyByHash(hash: string): Promise<ApiKeyRow | null> {
    for (const r of this.#apiKeys.values()) if (r.hash === hash) return cloneApiKey(r);
    return null;
  }
  async listApiKeys(): Promise<ApiKeyRow[]> {
    return [...this.#apiKeys.values()].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1)).map(cloneApiKey);
  }
  async revokeApiKey(id: string, at: number): Promise<boolean> {
    const r = this.#apiKeys.get(id);
    if (!r) return false;
    if (r.revokedAt === null) r.revokedAt = at;
    return true;
  }
  async touchApiKey(id: string, at: number): Promise<void> {
    const r = this.#apiKeys.get(id);
    if (r) r.lastUsedAt = at;
  }

  async appendAudit(row: AuditRow): Promise<void> {
    this.#audit.push({ ...row, id: ++this.#auditSeq });
  }
  async listAudit(query: { channelId?: string; limit?: number } = {}): Promise<AuditRow[]> {
    const out: AuditRow[] = [];
    const limit = query.limit ?? Infinity;
    for (let i = this.#audit.length - 1; i >= 0 && out.length < limit; i--) {
      const r = this.#audit[i]!;
      if (query.channelId === undefined || r.channelId === query.channelId) out.push(cloneAudit(r));
    }
    return out;
  }

  async listSealed(): Promise<SealedCell[]> {
    const cells: SealedCell[] = [];
    for (const c of this.#channels.values()) cells.push(...channelSealedCells(c));
    for (const m of this.#tokens.values()) {
      for (const t of m.values()) {
        if (t.accessToken !== null) cells.push({ table: "tokens", row: tokenRowKey(t.channelId, t.keyId), column: "accessToken", value: t.accessToken });
      }
    }
    for (const g of this.#grants.values()) cells.push({ table: "grants", row: g.credentialId, column: "secret", value: g.secret });
    for (const [name, value] of this.#meta) if (name.startsWith(SEALED_META_PREFIX)) cells.push({ table: "meta", row: name, column: "value", value });
    return cells;
  }

  async replaceSealed(cell: SealedCell, expected: Sealed): Promise<boolean> {
    if (cell.table === "meta") {
      if (cell.column !== "value" || this.#meta.get(cell.row) !== expected) return false;
      this.#meta.set(cell.row, cell.value);
      return true;
    }
    if (cell.table === "grants") {
      const g = this.#grants.get(cell.row);
      if (!g || cell.column !== "secret" || g.secret !== expected) return false;
      g.secret = cell.value;
      return true;
    }
    if (cell.table === "channels") {
      const c = this.#channels.get(cell.row);
      if (!c) return false;
      if (cell.column.startsWith(SECRET_COLUMN_PREFIX)) {
        const name = cell.column.slice(SECRET_COLUMN_PREFIX.length);
        if (c.secrets[name] !== expected) return false;
        c.secrets[name] = cell.value;
        return true;
      }
      if ((cell.column !== "privateKey" && cell.column !== "channelSecret") || c[cell.column] !== expected) return false;
      c[cell.column] = cell.value;
      return true;
    }
    const [channelId, keyId] = splitTokenRowKey(cell.row);
    const t = this.#tokens.get(channelId)?.get(keyId);
    if (!t || cell.column !== "accessToken" || t.accessToken !== expected) return false;
    t.accessToken = cell.value;
    return true;
  }

  async getIssueIntent(credentialId: string): Promise<IssueIntent | null> {
    const v = this.#intents.get(credentialId);
    return v ? { ...v } : null;
  }
  async setIssueIntent(credentialId: string, intent: IssueIntent): Promise<void> {
    this.#intents.set(credentialId, { owner: intent.owner, at: intent.at });
  }
  async clearIssueIntent(credentialId: string, owner?: string): Promise<void> {
    if (owner === undefined || this.#intents.get(credentialId)?.owner === owner) this.#intents.delete(credentialId);
  }
  async getBackoff(credentialId: string): Promise<SharedBackoff | null> {
    const v = this.#backoffs.get(credentialId);
    return v ? { ...v } : null;
  }
  async setBackoff(credentialId: string, backoff: SharedBackoff): Promise<void> {
    this.#backoffs.set(credentialId, { retryAt: backoff.retryAt, code: backoff.code, message: backoff.message });
  }
  async clearBackoff(credentialId: string): Promise<void> {
    this.#backoffs.delete(credentialId);
  }

  async getGrant(credentialId: string): Promise<GrantState | null> {
    const g = this.#grants.get(credentialId);
    return g ? { ...g } : null;
  }
  async swapGrant(credentialId: string, expectedVersion: number, next: GrantWrite): Promise<number | null> {
    if ((this.#grants.get(credentialId)?.version ?? 0) !== expectedVersion) return null;
    const version = expectedVersion + 1;
    this.#grants.set(credentialId, { credentialId, secret: next.secret, version, status: next.status, updatedAt: next.updatedAt });
    return version;
  }
}
