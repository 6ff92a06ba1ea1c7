import { createHash, randomBytes } from "node:crypto";
import type { ApiKeyRow, ApiKeyStore, AuditStore, CredentialStore } from "../store/types.ts";
import { InvalidInputError } from "../core/errors.ts";
import { HttpError } from "./errors.ts";

/** Every API key starts with this, so secret scanners and people can recognise one. */
export const API_KEY_PREFIX = "kgy_";
/** A key is the prefix and 43 base64url characters (256 random bits). */
const API_KEY_PATTERN = /^kgy_[A-Za-z0-9_-]{43}$/;
/** Channel IDs as LINE writes them: decimal digits. */
export const CHANNEL_ID_PATTERN = /^[0-9]{1,20}$/;
/** Credential IDs of any kind (see `validateCredentialId`): LINE channel IDs and readable ones such as `works-billing`. */
export const CREDENTIAL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * SHA-256 of an API key, hex: the only form a key is stored in. Keys carry 256 random bits, so
 * a fast hash is enough (nothing to brute-force).
 *
 * @example
 * ```ts
 * const hash = hashApiKey("kgy_...");
 * ```
 */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/** Options of {@link createApiKey}. */
export interface CreateApiKeyOptions {
  /** Channel IDs (digits) the key may read tokens of. */
  channels: string[];
  /** Credential IDs of any kind (a LINE WORKS app's, …) the key may read tokens of; with `channels`, at least one in all. */
  credentials?: string[];
  /** A label for people; defaults to the key's id. */
  name?: string;
  /** Who created it, for the audit log (default "cli"). */
  actor?: string;
  now?: () => number;
}

/**
 * Creates an API key: stores its hash and scope, audits `apikey.create`, and returns the key
 * text, which exists nowhere else afterwards.
 *
 * @example
 * ```ts
 * const { id, key } = await createApiKey(store, { channels: ["1234567890"], name: "billing" });
 * ```
 */
export async function createApiKey(store: Pick<CredentialStore, "getChannel"> & Pick<ApiKeyStore, "putApiKey"> & AuditStore, options: CreateApiKeyOptions): Promise<{ id: string; key: string; row: ApiKeyRow }> {
  for (const c of options.channels) {
    if (!CHANNEL_ID_PATTERN.test(c)) throw new InvalidInputError(`"${c.slice(0, 40)}" is not a channel ID (decimal digits, as in the LINE Developers Console)`, { field: "--channel" });
  }
  for (const c of options.credentials ?? []) {
    if (!CREDENTIAL_ID_PATTERN.test(c)) throw new InvalidInputError(`"${c.slice(0, 40)}" is not a credential ID (1 to 64 letters, digits, ".", "_" and "-")`, { field: "--credential" });
  }
  // One scope list: a credential ID is looked up exactly like a channel ID.
  const channels = [...new Set([...options.channels, ...(options.credentials ?? [])])];
  if (channels.length === 0) throw new InvalidInputError("an API key needs at least one channel (--channel ID) or credential (--credential ID)", { field: "--channel" });
  // A key for a channel nobody registered could never get a token: refuse it rather than store it.
  for (const c of channels) {
    if ((await store.getChannel(c)) === null) {
      throw new InvalidInputError(`channel ${c} is not registered (add it with kagiya channel add --id ${c} ..., or check the ID)`, { field: "--channel", code: "ERR_CHANNEL_NOT_FOUND" });
    }
  }
  const name = options.name ?? "";
  if (name.length > 100 || /[\u0000-\u001f]/.test(name)) throw new InvalidInputError("the key name must be at most 100 printable characters", { field: "--name" });
  const now = (options.now ?? Date.now)();
  const id = "ak_" + randomBytes(8).toString("hex");
  const key = API_KEY_PREFIX + randomBytes(32).toString("base64url");
  const row: ApiKeyRow = { id, name: name || id, hash: hashApiKey(key), channels, createdAt: now, revokedAt: null, lastUsedAt: null };
  await store.putApiKey(row);
  await store.appendAudit({ at: now, action: "apikey.create", actor: options.actor ?? "cli", channelId: null, keyId: id, detail: `channels ${channels.join(",")}` });
  return { id, key, row };
}

/**
 * Revokes an API key by id and audits `apikey.revoke`; false when there is no such key.
 *
 * @example
 * ```ts
 * await revokeApiKey(store, "ak_0123456789abcdef");
 * ```
 */
export async function revokeApiKey(store: Pick<ApiKeyStore, "revokeApiKey"> & AuditStore, id: string, options: { actor?: string; now?: () => number } = {}): Promise<boolean> {
  const now = (options.now ?? Date.now)();
  const ok = await store.revokeApiKey(id, now);
  if (ok) await store.appendAudit({ at: now, action: "apikey.revoke", actor: options.actor ?? "cli", channelId: null, keyId: id, detail: null });
  return ok;
}

/** Options of {@link ApiKeyAuthenticator}. */
export interface ApiKeyAuthenticatorOptions {
  /** How long a lookup (hit or miss) is trusted, ms (default 2000): bounds how late a revocation is seen. */
  cacheMs?: number;
  /**
   * While the store fails, a key found good within this many ms keeps working (default 300000,
   * 0 for never): the token API then rides out a store outage on what it holds in memory. The
   * store is asked again at most every second meanwhile, so once it answers, a revocation made
   * during the outage applies within a second plus one store read.
   */
  staleIfErrorMs?: number;
  /** Most remembered lookups before the cache is cleared (default 10000). */
  maxEntries?: number;
  now?: () => number;
}

interface CacheEntry {
  row: ApiKeyRow | null;
  /** When the store last answered for this key. */
  at: number;
  /** Trusted without asking the store until then. */
  freshUntil: number;
}

/** While the store fails, how often a key served from a stale lookup asks it again (ms). */
const STALE_RETRY_MS = 1000;

const UNAUTHORIZED = (): HttpError =>
  new HttpError(401, "ERR_UNAUTHORIZED", "send a valid API key as Authorization: Bearer <key> (create one with kagiya apikey create)", {
    headers: { "www-authenticate": 'Bearer realm="kagiya"' },
  });

/**
 * Checks `Authorization: Bearer <key>` against the store, caching each lookup for at most
 * `cacheMs`, so that the hot path is a hash and a Map lookup and a revocation made on any
 * instance is seen within `cacheMs` plus one store read. When the store fails, a key it found
 * good within `staleIfErrorMs` keeps working (stale-if-error); unknown keys get the store's error.
 *
 * @example
 * ```ts
 * const auth = new ApiKeyAuthenticator(store);
 * const row = await auth.authenticate(req.headers.authorization); // throws HttpError 401
 * ```
 */
export class ApiKeyAuthenticator {
  readonly #store: Pick<ApiKeyStore, "getApiKeyByHash">;
  readonly #cacheMs: number;
  readonly #staleMs: number;
  readonly #max: number;
  readonly #now: () => number;
  /**
   * Keyed by the presented key itself, not its hash: the hot path then costs no SHA-256. The
   * process holds each presented key for the request anyway; this keeps it a little longer, in
   * memory only (never logged, never stored).
   */
  readonly #cache = new Map<string, CacheEntry>();
  /** Lookups that found no key, apart: a flood of made-up keys must not push out the good ones. */
  readonly #unknown = new Map<string, CacheEntry>();
  readonly #inflight = new Map<string, Promise<ApiKeyRow | null>>();

  constructor(store: Pick<ApiKeyStore, "getApiKeyByHash">, options: ApiKeyAuthenticatorOptions = {}) {
    this.#store = store;
    this.#cacheMs = options.cacheMs ?? 2000;
    this.#staleMs = options.staleIfErrorMs ?? 300_000;
    this.#max = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** The key's row, or an HttpError 401 for a missing, malformed, unknown or revoked key. */
  async authenticate(header: string | undefined): Promise<ApiKeyRow> {
    const cached = this.cached(header);
    if (cached !== undefined) return cached;
    const row = await this.#lookup(bearerKey(header)!);
    if (row === null || row.revokedAt !== null) throw UNAUTHORIZED();
    return row;
  }

  /**
   * The hot path of {@link authenticate}, synchronous: the row when a fresh cached lookup says
   * the key is good, an HttpError 401 thrown when the header is malformed or a fresh lookup says
   * the key is unknown or revoked, and undefined when the store must be asked.
   */
  cached(header: string | undefined): ApiKeyRow | undefined {
    const key = bearerKey(header);
    if (key === null) throw UNAUTHORIZED();
    const hit = this.#cache.get(key) ?? this.#unknown.get(key);
    if (hit === undefined || this.#now() >= hit.freshUntil) return undefined;
    if (hit.row === null || hit.row.revokedAt !== null) throw UNAUTHORIZED();
    return hit.row;
  }

  /**
   * Whether this header's key was found good by an earlier lookup, however long ago: such a key
   * skips the bad-key limit of its address (it is still looked up, so a revocation still applies).
   */
  knownGood(header: string | undefined): boolean {
    const key = bearerKey(header);
    const hit = key === null ? undefined : this.#cache.get(key);
    return hit !== undefined && hit.row !== null && hit.row.revokedAt === null;
  }

  /** Forgets every cached lookup (after a local revocation, so it applies at once here). */
  clear(): void {
    this.#cache.clear();
    this.#unknown.clear();
  }

  #lookup(key: string): Promise<ApiKeyRow | null> {
    let p = this.#inflight.get(key);
    if (p === undefined) {
      p = this.#store.getApiKeyByHash(hashApiKey(key)).then(
        (row) => {
          this.#inflight.delete(key);
          const cache = row === null ? this.#unknown : this.#cache;
          cache.delete(key);
          // Full: the oldest lookup goes (Maps keep insertion order).
          if (cache.size >= this.#max) cache.delete(cache.keys().next().value!);
          const at = this.#now();
          cache.set(key, { row, at, freshUntil: at + this.#cacheMs });
          return row;
        },
        (error: unknown) => {
          this.#inflight.delete(key);
          // Unknown keys are not remembered here, so an outage never lets a made-up key in; a key
          // last seen revoked stays refused (authenticate answers 401 for its row).
          const hit = this.#cache.get(key);
          const now = this.#now();
          if (hit === undefined || now - hit.at >= this.#staleMs) throw error;
          hit.freshUntil = Math.min(hit.at + this.#staleMs, now + Math.min(this.#cacheMs, STALE_RETRY_MS));
          return hit.row;
        },
      );
      this.#inflight.set(key, p);
    }
    return p;
  }
}

/** The key of an `Authorization: Bearer` header, or null when absent or not shaped like a key. */
function bearerKey(header: string | undefined): string | null {
  if (header === undefined || header.length > 200) return null;
  // The usual spelling is checked without allocating; any other case is still accepted.
  if (!header.startsWith("Bearer ") && header.slice(0, 7).toLowerCase() !== "bearer ") return null;
  const key = header.slice(7).trim();
  return API_KEY_PATTERN.test(key) ? key : null;
}
