/**
 * What the engine's modules share: the resolved options, the stores they read, and the in-memory
 * state of one manager (cache, flights, health, credentials). Built once by the TokenManager; each
 * module (issuer, ledger, maintenance, admin) is a set of functions over it.
 *
 * @module
 */
import type { ChannelRegistry, RegistryStore } from "../store/registry.ts";
import type { AuditStore, CredentialStore, GrantStore, LockStore, TokenCoordinationStore, TokenStore } from "../store/types.ts";
import { TokenCache } from "./cache.ts";
import { CredentialCache } from "./credentials.ts";
import type { GrantBook } from "./grants.ts";
import { HealthBook } from "./health.ts";
import type { KindRegistry } from "./kind.ts";
import type { ManagedToken, TokenObserver } from "./types.ts";

/** The manager's durations and switches, resolved from its options and frozen. Milliseconds. */
export interface EngineConfig {
  readonly actor: string;
  readonly cacheOn: boolean;
  readonly cacheCheckMs: number;
  readonly cacheStaleMs: number;
  readonly lockTtlMs: number;
  readonly lockWaitMs: number;
  readonly refreshWaitMs: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
}

/** The slice of the store the engine uses. */
export type EngineStore = TokenStore & LockStore & TokenCoordinationStore & GrantStore & AuditStore & Pick<CredentialStore, "listChannels">;

/** One manager's engine state. */
export interface Engine {
  readonly config: EngineConfig;
  readonly registry: ChannelRegistry<EngineStore & RegistryStore>;
  readonly store: EngineStore;
  readonly kinds: KindRegistry;
  readonly now: () => number;
  readonly random: () => number;
  readonly observer: TokenObserver;
  readonly cache: TokenCache;
  readonly credentials: CredentialCache;
  readonly health: HealthBook;
  /** Grant writes waiting for the store, and the grant/token hooks. */
  readonly grants: GrantBook;
  /** In-process single flight of get()/maintenance per credential. */
  readonly flights: Map<string, Promise<ManagedToken>>;
}

/** Runs `run` once per key at a time: callers arriving meanwhile share its promise. */
export function singleFlight<T>(flights: Map<string, Promise<T>>, key: string, run: () => Promise<T>): Promise<T> {
  let p = flights.get(key);
  if (p === undefined) {
    p = run().finally(() => flights.delete(key));
    flights.set(key, p);
  }
  return p;
}

/** Times one upstream call for the observer (status 200 on success, the error's status or 0). */
export async function upstreamCall<T>(e: Pick<Engine, "observer">, endpoint: string, run: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    const value = await run();
    e.observer.upstream?.(endpoint, 200, performance.now() - t0);
    return value;
  } catch (error) {
    e.observer.upstream?.(endpoint, (error as { status?: number } | null)?.status ?? 0, performance.now() - t0);
    throw error;
  }
}

/** Appends an audit row; the audit log never blocks token handling. */
export async function audit(e: Engine, action: string, actor: string, credentialId: string, keyId: string | null, detail: string): Promise<void> {
  try {
    await e.store.appendAudit({ at: e.now(), action, actor, channelId: credentialId, keyId, detail });
  } catch {
    // Deliberately swallowed: see above.
  }
}
