// The emulator's whole state: plain maps in memory, optionally mirrored to a JSON file.
import { createPublicKey, type KeyObject, type webcrypto } from "node:crypto";
import { existsSync, renameSync, writeFileSync } from "node:fs";
import { readTextFileSync } from "../node/read-text.ts";
import { EmulatorStateError } from "./errors.ts";

type JsonWebKey = webcrypto.JsonWebKey;

/** Largest state file loaded: far past any real one, and a bound on memory whatever --state names. */
const MAX_STATE_BYTES = 256 * 1024 * 1024;

/** The kinds of channel access token the emulator issues. */
export type TokenKind = "v2.1" | "stateless" | "short-lived";

/** One registered assertion signing key (public half only). */
export interface ChannelKey {
  kid: string;
  jwk: JsonWebKey;
  createdAt: number;
  /** Imported once at registration so each assertion check is a single verify call. */
  keyObject: KeyObject;
}

/** A LINE channel as the emulator knows it. */
export interface Channel {
  channelId: string;
  channelSecret: string;
  /** The bot's user ID: the `destination` of its webhooks. */
  botUserId: string;
  keys: Map<string, ChannelKey>;
  createdAt: number;
}

/** One issued token: the ledger row. Times are epoch milliseconds on the emulator clock. */
export interface TokenRecord {
  accessToken: string;
  kind: TokenKind;
  channelId: string;
  /** LINE's key_id, v2.1 only. */
  keyId: string | null;
  issuedAt: number;
  expiresAt: number;
  revokedAt: number | null;
}

/** A reply token minted by a webhook delivery. */
export interface ReplyTokenRecord {
  channelId: string;
  expiresAt: number;
  used: boolean;
}

/** A message request accepted by reply or push. */
export interface MessageRecord {
  channelId: string;
  kind: "reply" | "push";
  to: string | null;
  replyToken: string | null;
  retryKey: string | null;
  requestId: string;
  at: number;
  body: unknown;
  sentMessages: Array<{ id: string; quoteToken?: string }>;
}

/** An accepted X-Line-Retry-Key, remembered for 24 hours. */
export interface RetryKeyRecord {
  requestId: string;
  at: number;
  sentMessages: Array<{ id: string; quoteToken?: string }>;
}

/** The valid-token state a ledger row reports. */
export type TokenState = "valid" | "revoked" | "expired";

/** Returns a token's state at `now`. */
export function tokenState(t: TokenRecord, now: number): TokenState {
  if (t.revokedAt !== null) return "revoked";
  if (t.expiresAt <= now) return "expired";
  return "valid";
}

interface PersistedState {
  version: 1;
  clockOffsetMs: number;
  channels: Array<{ channelId: string; channelSecret: string; botUserId: string; createdAt: number; keys: Array<{ kid: string; jwk: JsonWebKey; createdAt: number }> }>;
  tokens: TokenRecord[];
}

/** Least time between two writes of the state file, ms. */
const STATE_WRITE_MS = 250;

/** In-memory state plus the emulator-wide clock. */
export class EmulatorState {
  channels = new Map<string, Channel>();
  /** kid → channel ID, so an assertion's key is found in one lookup. */
  kidIndex = new Map<string, string>();
  tokens = new Map<string, TokenRecord>();
  tokensByChannel = new Map<string, TokenRecord[]>();
  replyTokens = new Map<string, ReplyTokenRecord>();
  /** channelId + "\n" + retry key → what was accepted. */
  retryKeys = new Map<string, RetryKeyRecord>();
  messages: MessageRecord[] = [];
  /** The emulator clock is real time plus this offset; every expiry check reads {@link now}. */
  clockOffsetMs = 0;
  readonly stateFile: string | undefined;
  private dirty = false;

  constructor(stateFile?: string) {
    this.stateFile = stateFile;
    if (stateFile) this.load(stateFile);
  }

  /** The emulator's current time in epoch milliseconds. */
  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  addChannel(channelId: string, channelSecret: string, botUserId: string, createdAt = this.now()): Channel {
    const channel: Channel = { channelId, channelSecret, botUserId, keys: new Map(), createdAt };
    this.channels.set(channelId, channel);
    this.changed();
    return channel;
  }

  addKey(channel: Channel, kid: string, jwk: JsonWebKey, createdAt = this.now()): ChannelKey {
    const key: ChannelKey = { kid, jwk, createdAt, keyObject: createPublicKey({ key: jwk, format: "jwk" }) };
    channel.keys.set(kid, key);
    this.kidIndex.set(kid, channel.channelId);
    this.changed();
    return key;
  }

  removeKey(channel: Channel, kid: string): boolean {
    const had = channel.keys.delete(kid);
    if (had) {
      this.kidIndex.delete(kid);
      this.changed();
    }
    return had;
  }

  addToken(t: TokenRecord): void {
    this.tokens.set(t.accessToken, t);
    let list = this.tokensByChannel.get(t.channelId);
    if (!list) this.tokensByChannel.set(t.channelId, (list = []));
    list.push(t);
    // Stateless tokens are unlimited and short-lived by design: persisting each one would make
    // a load test write the state file thousands of times for nothing.
    if (t.kind !== "stateless") this.changed();
  }

  revoke(t: TokenRecord): void {
    if (t.revokedAt !== null) return;
    t.revokedAt = this.now();
    this.changed();
  }

  /** Valid tokens of one kind for a channel, oldest first. */
  validTokens(channelId: string, kind: TokenKind): TokenRecord[] {
    const now = this.now();
    return (this.tokensByChannel.get(channelId) ?? []).filter((t) => t.kind === kind && tokenState(t, now) === "valid");
  }

  /** Empties everything (channels, tokens, messages, clock). */
  reset(): void {
    this.channels.clear();
    this.kidIndex.clear();
    this.tokens.clear();
    this.tokensByChannel.clear();
    this.replyTokens.clear();
    this.retryKeys.clear();
    this.messages = [];
    this.clockOffsetMs = 0;
    this.changed();
  }

  /**
   * Marks the state as changed; the file (if any) is rewritten at most every 250 ms (and on
   * close): each write is the whole state, which with thousands of channels and their ledgers
   * would otherwise be rewritten on every issuance.
   */
  changed(): void {
    if (!this.stateFile || this.dirty) return;
    this.dirty = true;
    setTimeout(() => this.flush(), STATE_WRITE_MS).unref();
  }

  /** Writes the state file now if anything changed (atomic: temp file then rename). */
  flush(): void {
    if (!this.stateFile || !this.dirty) return;
    this.dirty = false;
    const data: PersistedState = {
      version: 1,
      clockOffsetMs: this.clockOffsetMs,
      channels: [...this.channels.values()].map((c) => ({
        channelId: c.channelId,
        channelSecret: c.channelSecret,
        botUserId: c.botUserId,
        createdAt: c.createdAt,
        keys: [...c.keys.values()].map((k) => ({ kid: k.kid, jwk: k.jwk, createdAt: k.createdAt })),
      })),
      tokens: [...this.tokens.values()].filter((t) => t.kind !== "stateless"),
    };
    const tmp = `${this.stateFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(data), { mode: 0o600 });
    renameSync(tmp, this.stateFile);
  }

  private load(file: string): void {
    if (!existsSync(file)) return; // first run: the file is created on the first change
    let text: string;
    try {
      text = readTextFileSync(file, { cwd: process.cwd(), what: "state file", maxBytes: MAX_STATE_BYTES });
    } catch (error) {
      throw new EmulatorStateError(`${(error as Error).message} (pass another --state path)`, { cause: error });
    }
    let data: PersistedState;
    try {
      data = JSON.parse(text) as PersistedState;
      if (data.version !== 1 || !Array.isArray(data.channels) || !Array.isArray(data.tokens)) throw new Error("shape");
    } catch (cause) {
      throw new EmulatorStateError(`state file ${file} is not an emulator state file (delete it or pass another --state path)`, { cause });
    }
    this.clockOffsetMs = Number(data.clockOffsetMs) || 0;
    for (const c of data.channels) {
      const channel = this.addChannel(c.channelId, c.channelSecret, c.botUserId, c.createdAt);
      for (const k of c.keys) this.addKey(channel, k.kid, k.jwk, k.createdAt);
    }
    for (const t of data.tokens) this.addToken({ ...t });
    this.dirty = false;
  }
}
