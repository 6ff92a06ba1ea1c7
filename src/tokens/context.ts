/**
 * Everything a command or a service needs to handle tokens, opened from configuration in one call:
 * master key (checked first, so a missing key writes nothing), store, channel registry, manager.
 */
import { ChannelRegistry } from "../store/registry.ts";
import { openStore } from "../store/open.ts";
import { loadSealer } from "../store/rotate.ts";
import type { Store } from "../store/types.ts";
import { DEFAULT_WORKS_AUTH_BASE } from "../clients/works/options.ts";
import { lineTokenApi } from "./line.ts";
import { presetOriginsFromEnv } from "../kinds/oauth2/registration.ts";
import { TokenManager, type TokenManagerOptions } from "./manager.ts";

/** Options of {@link openTokenContext}. */
export interface TokenContextOptions {
  /** Store spec (`sqlite:PATH`, `redis://…`, `postgres://…`); default as `openStore` resolves it. */
  store?: string | undefined;
  /** Environment: KAGIYA_MASTER_KEY(_FILE), KAGIYA_LINE_API_BASE, KAGIYA_WORKS_AUTH_BASE, KAGIYA_DB, … (default process.env). */
  env?: Record<string, string | undefined>;
  /** Base for relative paths (default process.cwd()). */
  cwd?: string;
  /** Refuse to create a SQLite store that does not exist yet (see `OpenStoreOptions.mustExist`). */
  mustExist?: boolean;
  /** Extra manager options (actor, clock, observer, …). */
  manager?: Omit<Partial<TokenManagerOptions>, "registry" | "line" | "works" | "worksAuthBase">;
}

/** An open token context; `close()` closes the store. */
export interface TokenContext {
  store: Store;
  registry: ChannelRegistry;
  manager: TokenManager;
  close(): Promise<void>;
}

/**
 * Opens the master key, the store, the registry and a TokenManager whose LINE base URL comes from
 * `KAGIYA_LINE_API_BASE` (default https://api.line.me), and LINE WORKS' from `KAGIYA_WORKS_AUTH_BASE`
 * (default https://auth.worksmobile.com).
 *
 * @example
 * ```ts
 * const ctx = await openTokenContext({ store: "sqlite:./kagiya.db", manager: { actor: "cli" } });
 * try { console.log((await ctx.manager.get("1234567890")).keyId); } finally { await ctx.close(); }
 * ```
 */
export async function openTokenContext(options: TokenContextOptions = {}): Promise<TokenContext> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const sealer = loadSealer(env, cwd);
  const store = await openStore(options.store, env, { cwd, ...(options.mustExist ? { mustExist: true } : {}) });
  try {
    const registry = await ChannelRegistry.open(store, sealer);
    const worksAuthBase = env["KAGIYA_WORKS_AUTH_BASE"] || DEFAULT_WORKS_AUTH_BASE;
    // The LINE client signs assertions on the manager's clock, as TokenManager's own default does.
    const now = options.manager?.now;
    const manager = new TokenManager({ ...options.manager, registry, line: lineTokenApi({ env, ...(now ? { now } : {}) }), worksAuthBase, oauthOrigins: presetOriginsFromEnv(env) });
    return { store, registry, manager, close: () => store.close() };
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
}
