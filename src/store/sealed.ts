/**
 * Sealing of secrets at rest (private keys, channel secrets, access tokens).
 *
 * Format of a sealed value (ASCII, stored as text):
 *
 * ```
 * v1.<keyVersion>.<nonce>.<ciphertext‖tag>
 * ```
 *
 * - `v1`: format version.
 * - `keyVersion`: the first 8 hex characters of SHA-256 over the 32 master-key bytes; names the
 *   master key that sealed the value, so a store opened with another key fails with
 *   `ERR_MASTER_KEY_MISMATCH` instead of producing garbage, and rotation can skip values already
 *   under the new key.
 * - `nonce`: 12 random bytes (fresh per write), base64url without padding.
 * - `ciphertext‖tag`: AES-256-GCM output with its 16-byte tag appended, base64url without padding.
 *
 * The AES key is HKDF-SHA256(master key, salt = empty, info = "kagiya/seal/v1"). The associated
 * data is `kagiya.v1.<keyVersion>` followed by the JSON array `[table, row, column]`, so a
 * ciphertext copied to another row or column fails to open (`ERR_SEALED_CORRUPT`).
 *
 * The master key is 32 random bytes written as 64 hex characters or base64 (standard or url,
 * padding optional), from `KAGIYA_MASTER_KEY` or a file (mode 0600) named by
 * `KAGIYA_MASTER_KEY_FILE`. `kagiya keys new-master` prints a fresh one.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, createHash, createSecretKey, hkdfSync, randomBytes, type KeyObject } from "node:crypto";
import { statSync } from "node:fs";
import { readTextFileSync } from "../node/read-text.ts";
import { isAbsolute, resolve } from "node:path";
import { MasterKeyError, SealedValueError } from "./errors.ts";
import type { Sealed, SealedCell } from "./types.ts";

/** Where a sealed value lives; bound into the ciphertext as associated data. */
export interface SealContext {
  table: SealedCell["table"];
  /** Row key: channelId, `${channelId}/${keyId}`, the credential ID (grants) or the meta name (as in {@link SealedCell}). */
  row: string;
  column: string;
}

const FORMAT = "v1";
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HKDF_INFO = "kagiya/seal/v1";

/**
 * A parsed master key. Holds the derived AES key privately; never exposes key bytes and never
 * prints them (`toString`/`toJSON` show the version only).
 *
 * @example
 * ```ts
 * const key = MasterKey.parse(generateMasterKeyText(), "KAGIYA_MASTER_KEY");
 * console.log(key.version); // e.g. "3f9a0c12"
 * ```
 */
export class MasterKey {
  /** Key version: first 8 hex of SHA-256 of the key bytes. */
  readonly version: string;
  // A KeyObject, not a Buffer: OpenSSL 3 sets up a raw-buffer key on every cipher (~5x slower).
  readonly #aesKey: KeyObject;
  readonly #raw: Buffer;

  private constructor(raw: Buffer) {
    this.version = createHash("sha256").update(raw).digest("hex").slice(0, 8);
    this.#raw = raw;
    this.#aesKey = createSecretKey(Buffer.from(hkdfSync("sha256", raw, Buffer.alloc(0), HKDF_INFO, 32)));
  }

  /**
   * A 256-bit key for another purpose, derived with HKDF-SHA256 (info = `purpose`), so every
   * instance holding this master key derives the same one and none derives the sealing key.
   *
   * @example
   * ```ts
   * const sessionKey = masterKey.deriveKey("kagiya/admin-session/v1");
   * ```
   */
  deriveKey(purpose: string): KeyObject {
    if (purpose === HKDF_INFO) throw new TypeError("that purpose is the sealing key's");
    return createSecretKey(Buffer.from(hkdfSync("sha256", this.#raw, Buffer.alloc(0), purpose, 32)));
  }

  /**
   * Parses 64 hex characters or base64/base64url (43 or 44 characters) into a key.
   * Surrounding whitespace (a trailing newline in a key file) is ignored.
   * @param source names where the text came from, for the error message (never the text).
   */
  static parse(text: string, source = "the master key"): MasterKey {
    const t = text.trim();
    let raw: Buffer | null = null;
    if (/^[0-9a-fA-F]{64}$/.test(t)) raw = Buffer.from(t, "hex");
    else if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(t)) raw = Buffer.from(t.replace(/-/g, "+").replace(/_/g, "/"), "base64");
    if (raw === null || raw.length !== 32) {
      throw new MasterKeyError(
        "ERR_MASTER_KEY_INVALID",
        `${source} is not a master key: expected 32 bytes as 64 hex characters or base64 (create one with: kagiya keys new-master)`,
      );
    }
    return new MasterKey(raw);
  }

  /** @internal AES key for {@link Sealer}. */
  aesKey(): KeyObject {
    return this.#aesKey;
  }

  toString(): string {
    return `MasterKey(${this.version})`;
  }
  toJSON(): string {
    return this.toString();
  }
}

/**
 * A fresh master key as 64 hex characters (32 bytes from the CSPRNG).
 *
 * @example
 * ```ts
 * const text = generateMasterKeyText(); // put it in KAGIYA_MASTER_KEY or a 0600 file
 * ```
 */
export function generateMasterKeyText(): string {
  return randomBytes(32).toString("hex");
}

/** Names of the variables a master key is read from; defaults are the current key's. */
export interface MasterKeyVariables {
  /** Default `KAGIYA_MASTER_KEY`. */
  value?: string;
  /** Default `KAGIYA_MASTER_KEY_FILE`. */
  file?: string;
}

/**
 * Reads the master key from `env` (`KAGIYA_MASTER_KEY`, or the file named by
 * `KAGIYA_MASTER_KEY_FILE`). Returns null when neither is set.
 * Throws {@link MasterKeyError} for a malformed key, both variables set, or a key file readable
 * by group or others.
 *
 * @example
 * ```ts
 * const old = readMasterKey(process.env, { value: "KAGIYA_MASTER_KEY_OLD", file: "KAGIYA_MASTER_KEY_OLD_FILE" });
 * ```
 */
export function readMasterKey(env: Record<string, string | undefined>, vars: MasterKeyVariables = {}, cwd = process.cwd()): MasterKey | null {
  const valueVar = vars.value ?? "KAGIYA_MASTER_KEY";
  const fileVar = vars.file ?? "KAGIYA_MASTER_KEY_FILE";
  const value = env[valueVar];
  const file = env[fileVar];
  if (value && file) {
    throw new MasterKeyError("ERR_MASTER_KEY_INVALID", `both ${valueVar} and ${fileVar} are set: set only one`);
  }
  if (value) return MasterKey.parse(value, valueVar);
  if (!file) return null;
  const path = isAbsolute(file) ? file : resolve(cwd, file);
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    throw new MasterKeyError("ERR_MASTER_KEY_MISSING", `master key file ${path} (from ${fileVar}) cannot be read: create it with: kagiya keys new-master > ${path} && chmod 600 ${path}`);
  }
  if (process.platform !== "win32" && (mode & 0o077) !== 0) {
    throw new MasterKeyError(
      "ERR_MASTER_KEY_FILE_PERMISSIONS",
      `master key file ${path} is readable by group or others (mode ${(mode & 0o777).toString(8)}): run chmod 600 ${path}`,
    );
  }
  // Through the bounded reader: a FIFO or a device named here must not hang or fill memory.
  let text: string;
  try {
    text = readTextFileSync(path, { cwd, what: `master key file (${fileVar})`, maxBytes: 4096 });
  } catch (error) {
    throw new MasterKeyError("ERR_MASTER_KEY_INVALID", (error as Error).message, { cause: error });
  }
  return MasterKey.parse(text, `the master key file ${path}`);
}

/**
 * Like {@link readMasterKey} for the current key, but a missing key is an error that says how
 * to create one.
 *
 * @example
 * ```ts
 * const sealer = new Sealer(loadMasterKey(process.env));
 * ```
 */
export function loadMasterKey(env: Record<string, string | undefined>, cwd?: string): MasterKey {
  const key = readMasterKey(env, {}, cwd);
  if (!key) {
    throw new MasterKeyError(
      "ERR_MASTER_KEY_MISSING",
      "no master key: set KAGIYA_MASTER_KEY, or KAGIYA_MASTER_KEY_FILE to a 0600 file holding it (create one with: kagiya keys new-master)",
    );
  }
  return key;
}

function b64url(b: Buffer): string {
  return b.toString("base64url");
}

/**
 * The key version a sealed value names, or null when it is not a sealed value.
 *
 * @example
 * ```ts
 * sealedKeyVersion(row.channelSecret) === sealer.version; // already under the current key?
 * ```
 */
export function sealedKeyVersion(value: string): string | null {
  const m = /^v1\.([0-9a-f]{8})\./.exec(value);
  return m ? m[1]! : null;
}

function describe(ctx: SealContext): string {
  return `${ctx.table} ${ctx.row} ${ctx.column}`;
}

/**
 * Seals and opens secrets with AES-256-GCM. Seals with `current`; opens values sealed with
 * `current` or any key in `older` (used during master-key rotation).
 *
 * @example
 * ```ts
 * const sealer = new Sealer(loadMasterKey(process.env));
 * const ctx = { table: "channels", row: "1234567890", column: "channelSecret" } as const;
 * const sealed = sealer.seal("s3cret", ctx);
 * sealer.open(sealed, ctx); // "s3cret"
 * ```
 */
export class Sealer {
  readonly current: MasterKey;
  readonly #keys = new Map<string, MasterKey>();

  constructor(current: MasterKey, older: readonly MasterKey[] = []) {
    this.current = current;
    for (const k of older) this.#keys.set(k.version, k);
    this.#keys.set(current.version, current);
  }

  /** Current key version (what new values are sealed under). */
  get version(): string {
    return this.current.version;
  }

  /** Seals UTF-8 text for the given place. */
  seal(plaintext: string, ctx: SealContext): Sealed {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.current.aesKey(), nonce);
    cipher.setAAD(aad(this.current.version, ctx));
    const ct = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
    return `${FORMAT}.${this.current.version}.${b64url(nonce)}.${b64url(ct)}`;
  }

  /**
   * Opens a sealed value for the given place. Throws {@link MasterKeyError}
   * (`ERR_MASTER_KEY_MISMATCH`) when it was sealed under a key this sealer does not hold, and
   * {@link SealedValueError} when it is malformed, altered or belongs to another place.
   */
  open(sealed: Sealed, ctx: SealContext): string {
    const parts = typeof sealed === "string" ? sealed.split(".") : [];
    if (parts.length !== 4 || parts[0] !== FORMAT || !/^[0-9a-f]{8}$/.test(parts[1]!)) {
      throw new SealedValueError(`the sealed value in ${describe(ctx)} is malformed (restore it from a backup or write it again)`);
    }
    const version = parts[1]!;
    const key = this.#keys.get(version);
    if (!key) {
      throw new MasterKeyError(
        "ERR_MASTER_KEY_MISMATCH",
        `the value in ${describe(ctx)} is sealed with master key version ${version}, but the master key given has version ${this.current.version}: set KAGIYA_MASTER_KEY to the key this store was sealed with`,
      );
    }
    const nonce = Buffer.from(parts[2]!, "base64url");
    const body = Buffer.from(parts[3]!, "base64url");
    if (nonce.length !== NONCE_BYTES || body.length < TAG_BYTES) {
      throw new SealedValueError(`the sealed value in ${describe(ctx)} is malformed (restore it from a backup or write it again)`);
    }
    try {
      const decipher = createDecipheriv("aes-256-gcm", key.aesKey(), nonce);
      decipher.setAAD(aad(version, ctx));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return decipher.update(body.subarray(0, body.length - TAG_BYTES), undefined, "utf8") + decipher.final("utf8");
    } catch (error) {
      throw new SealedValueError(
        `the sealed value in ${describe(ctx)} does not open: it was altered or copied from another row (restore it from a backup or write it again)`,
        { cause: error },
      );
    }
  }

  /** True when this sealer holds the key `sealed` names. */
  canOpen(sealed: Sealed): boolean {
    const v = sealedKeyVersion(sealed);
    return v !== null && this.#keys.has(v);
  }
}

function aad(version: string, ctx: SealContext): Buffer {
  return Buffer.from(`kagiya.v1.${version}` + JSON.stringify([ctx.table, ctx.row, ctx.column]), "utf8");
}

/**
 * The place an access token of a TokenRow is sealed for: tokens / `${channelId}/${keyId}` / accessToken.
 *
 * @example
 * ```ts
 * sealer.open(row.accessToken!, accessTokenContext(row.channelId, row.keyId));
 * ```
 */
export function accessTokenContext(channelId: string, keyId: string): SealContext {
  return { table: "tokens", row: `${channelId}/${keyId}`, column: "accessToken" };
}

/**
 * Seals an access token for the token row (channelId, keyId).
 *
 * @example
 * ```ts
 * const row: TokenRow = { ..., accessToken: sealAccessToken(sealer, "1234567890", body.key_id, body.access_token) };
 * ```
 */
export function sealAccessToken(sealer: Sealer, channelId: string, keyId: string, accessToken: string): Sealed {
  return sealer.seal(accessToken, accessTokenContext(channelId, keyId));
}

/**
 * Opens the access token of a token row. Throws {@link SealedValueError} for an orphan row (no
 * token) or a value that does not open, {@link MasterKeyError} for a foreign key version.
 *
 * @example
 * ```ts
 * const { token } = await store.getCurrent("1234567890");
 * if (token) fetch(url, { headers: { authorization: `Bearer ${openAccessToken(sealer, token)}` } });
 * ```
 */
export function openAccessToken(sealer: Sealer, row: { channelId: string; keyId: string; accessToken: Sealed | null }): string {
  if (row.accessToken === null) {
    throw new SealedValueError(`token ${row.keyId} of channel ${row.channelId} has no token text (an orphan key ID)`);
  }
  return sealer.open(row.accessToken, accessTokenContext(row.channelId, row.keyId));
}
