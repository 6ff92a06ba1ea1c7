// What every role suite of the Store contract shares: the harness a backend's test file gives, row
// builders and the suite runner. A backend that implements only some roles runs only their suites.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe } from "node:test";
import type { ApiKeyRow, ChannelRow, Store, StoreLifecycle, TokenRow } from "../../../src/store/types.ts";

/** What a role suite needs of every store it is given: a way to close it. */
export type Closable = Pick<StoreLifecycle, "close">;

export interface StoreHarness<S extends Closable = Store> {
  store: S;
  /** Another store instance over the same data (another connection or file handle). */
  other?: () => Promise<S>;
  /** Every byte the backend holds for this harness (files, keys, table dumps). */
  rawBytes?: () => Promise<Buffer>;
  cleanup: () => Promise<void>;
}

export type StoreFactory<S extends Closable = Store> = () => Promise<StoreHarness<S>>;

/**
 * The harness of a backend whose instances share data: `open` makes one more instance over the
 * same file, key prefix or schema. The store and every `other()` are migrated; cleanup closes the
 * others, then `destroy`s (when given) and closes the store.
 */
export async function sharedStoreHarness<S extends Pick<StoreLifecycle, "migrate" | "close">>(
  open: () => Promise<S>,
  options: { rawBytes: (store: S) => Promise<Buffer>; destroy?: (store: S) => Promise<void> },
): Promise<StoreHarness<S>> {
  const store = await open();
  await store.migrate();
  const others: S[] = [];
  return {
    store,
    other: async () => {
      const s = await open();
      others.push(s);
      await s.migrate();
      return s;
    },
    rawBytes: () => options.rawBytes(store),
    cleanup: async () => {
      for (const s of others) await s.close();
      await options.destroy?.(store);
      await store.close();
    },
  };
}

export const T0 = 1_763_000_000_000;

export function tokenRow(channelId: string, keyId: string, over: Partial<TokenRow> = {}): TokenRow {
  return {
    channelId,
    keyId,
    accessToken: `v1.00000000.bm9uY2U.${keyId}`,
    generation: 0,
    state: "valid",
    issuedAt: T0,
    expiresAt: T0 + 7 * 86_400_000,
    refreshAt: T0 + 5 * 86_400_000,
    revokeAt: null,
    updatedAt: T0,
    ...over,
  };
}

export function channelRow(channelId: string, over: Partial<ChannelRow> = {}): ChannelRow {
  return {
    channelId,
    kid: `kid-${channelId}`,
    privateKey: `v1.00000000.pk.${channelId}`,
    channelSecret: `v1.00000000.cs.${channelId}`,
    policy: { lifetimeSeconds: 86_400 },
    kind: "line-v2.1",
    settings: {},
    secrets: {},
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

export function apiKey(id: string, over: Partial<ApiKeyRow> = {}): ApiKeyRow {
  return { id, name: `svc-${id}`, hash: `hash-${id}`, channels: ["1234567890"], createdAt: T0, revokedAt: null, lastUsedAt: null, ...over };
}

let rsa: object | undefined;
export function privateJwk(): Record<string, unknown> {
  rsa ??= generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
  return { ...rsa, alg: "RS256", use: "sig" };
}

/** Polls `fn` until it returns true (bounded); for TTLs a backend enforces with its own clock. */
export async function eventually(fn: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`never happened: ${what}`);
}

/** Options of every role suite. */
export interface SuiteOptions {
  skip?: string | false;
}

type Use<S extends Closable> = (fn: (h: StoreHarness<S>) => Promise<void>) => () => Promise<void>;

/** A describe() for one role on one backend; `use` gives each test a fresh harness and cleans it up. */
export function roleSuite<S extends Closable>(role: string, name: string, factory: StoreFactory<S>, options: SuiteOptions, body: (use: Use<S>) => void): void {
  const use: Use<S> = (fn) => async () => {
    const h = await factory();
    try {
      await fn(h);
    } finally {
      await h.cleanup();
    }
  };
  describe(`Store contract, ${role}: ${name}`, { skip: options.skip ?? false }, () => body(use));
}
