/**
 * Which LINE WORKS app owns a bot: `kagiya works add … --bot-id BOT --bot-secret-env VAR` stores
 * the bot ID in the app's public settings and its Bot Secret sealed beside the Client Secret. The
 * callback route names the bot, so the broker keeps an index bot ID → credential ID, read from
 * the credential rows (no secret opened) and read again when it is stale or a bot is not in it.
 */
import type { ChannelRegistry } from "../store/registry.ts";
import { LINE_WORKS_KIND } from "../kinds/line-works/index.ts";
import type { Logger } from "./logger.ts";

/** How long the index is trusted, ms; a bot added meanwhile is found by the re-read on a miss. */
const INDEX_TTL_MS = 30_000;
/** A miss re-reads the index at most this often, ms: a flood for made-up bots is not a flood of store reads. */
const MISS_REREAD_MS = 2_000;

/**
 * The bot → app index of one broker.
 *
 * @example
 * ```ts
 * const bots = new WorksBotDirectory(registry, { log });
 * await bots.credentialFor("2000001"); // "works-billing", or null
 * await bots.secretFor("2000001");     // the Bot Secret, or null
 * ```
 */
export class WorksBotDirectory {
  readonly #registry: ChannelRegistry;
  readonly #now: () => number;
  readonly #log: Logger | undefined;
  #index = new Map<string, string>();
  #readAt = -Infinity;
  #reading: Promise<void> | null = null;

  constructor(registry: ChannelRegistry, options: { now?: () => number; log?: Logger } = {}) {
    this.#registry = registry;
    this.#now = options.now ?? Date.now;
    this.#log = options.log;
  }

  /** The credential ID of the LINE WORKS app that owns `botId`, or null. */
  async credentialFor(botId: string): Promise<string | null> {
    const age = this.#now() - this.#readAt;
    if (age >= INDEX_TTL_MS || (!this.#index.has(botId) && age >= MISS_REREAD_MS)) await this.#read();
    return this.#index.get(botId) ?? null;
  }

  /** The Bot Secret of `botId`, or null when no app owns it or the app stores none. */
  async secretFor(botId: string): Promise<string | null> {
    const id = await this.credentialFor(botId);
    if (id === null) return null;
    const app = await this.#registry.get(id);
    if (app === null || app.kind !== LINE_WORKS_KIND || app.settings["botId"] !== botId) return null;
    return app.secrets["botSecret"] ?? null;
  }

  #read(): Promise<void> {
    this.#reading ??= (async () => {
      try {
        const rows = await this.#registry.listRows();
        const index = new Map<string, string>();
        for (const row of rows) {
          const botId = row.kind === LINE_WORKS_KIND ? row.settings["botId"] : undefined;
          if (typeof botId !== "string") continue;
          const held = index.get(botId);
          // Two apps naming one bot: the first by ID answers, the other is named in the log.
          if (held !== undefined) this.#log?.warn({ botId, credentials: [held, row.channelId] }, "two LINE WORKS apps name the same bot; callbacks use the first");
          else index.set(botId, row.channelId);
        }
        this.#index = index;
        this.#readAt = this.#now();
      } finally {
        this.#reading = null;
      }
    })();
    return this.#reading;
  }
}
