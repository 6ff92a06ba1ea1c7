/**
 * Options of the webhook intake, resolved once into a frozen object. Every default, with its
 * unit, is here and nowhere else. Only the web-standard core's options are known here: each
 * adapter takes its own keys off first ({@link splitAdapterOptions}), so an adapter-only key given
 * to the core is refused like any other unknown key.
 */
import type { InboxStore } from "../store/roles/inbox.ts";
import { MemoryDedup, type DedupStore } from "./dedup.ts";
import { WebhookConfigError, type WebhookRejectionCode } from "./errors.ts";
import { defaultLogger } from "./log.ts";
import type { WebhookPlatformName } from "./platform.ts";
import type { Logger, WebhookEvent } from "./types.ts";

/**
 * Default limit on the request body: 1 MiB.
 *
 * @example
 * ```ts
 * createWebhookHandler({ secretFor, bot, maxBodyBytes: DEFAULT_MAX_BODY_BYTES * 2 });
 * ```
 */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/**
 * Default time an event ID is remembered for de-duplication: 24 hours.
 *
 * @example
 * ```ts
 * createWebhookHandler({ secretFor, bot, dedup: store, dedupTtlMs: DEFAULT_DEDUP_TTL_MS });
 * ```
 */
export const DEFAULT_DEDUP_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * The other defaults, with units: `concurrency` 32 deliveries; `maxPending` 10,000 deliveries;
 * `secretCacheMs` 10,000 ms; `inboxLeaseMs` 30,000 ms; `inboxPollMs` 1,000 ms.
 */
const DEFAULTS = { concurrency: 32, maxPending: 10_000, secretCacheMs: 10_000, inboxLeaseMs: 30_000, inboxPollMs: 1_000 } as const;

/** What a handler learns about the delivery an event came in. */
export interface DeliveryInfo {
  /** The LINE channel ID; for a LINE WORKS callback, the bot ID. */
  channelId: string;
  /** LINE: the bot's user ID from the body. LINE WORKS: the bot ID. */
  destination: string;
  /** The platform the event came from; absent means LINE (infos built by hand before it existed). */
  platform?: WebhookPlatformName;
}

/** Something that takes events: a {@link Bot} from createBot() fits. */
export interface EventDispatcher {
  dispatch(event: WebhookEvent, info: DeliveryInfo): Promise<void> | void;
}

/** Why a request was refused, for audit and metrics. Never holds the signature or body. */
export interface RejectInfo {
  /** The LINE channel ID, or the LINE WORKS bot ID (with `platform: "line-works"`). */
  channelId: string | null;
  status: number;
  code: WebhookRejectionCode;
  /** Set for LINE WORKS callbacks only; absent means LINE. */
  platform?: "line-works";
}

/** Options shared by createWebhookHandler() and every adapter. Durations in ms, sizes in bytes. */
export interface WebhookOptions {
  /** Single-channel mode: the channel secret. Give this or `secretFor`. */
  channelSecret?: string;
  /** Single-channel mode: the channel ID handlers see (default "default"). */
  channelId?: string;
  /**
   * Multi-channel mode: the secret of a channel, or null/undefined when it is not registered
   * (answered 401, the same as a bad signature, so channels cannot be enumerated).
   */
  secretFor?: (channelId: string) => string | null | undefined | Promise<string | null | undefined>;
  /**
   * LINE WORKS bots (callbacks at a bot's own URL, signed with its Bot Secret in
   * `X-WORKS-Signature`): the secret of a bot, or null/undefined when it is not registered (401).
   * Without it, every LINE WORKS callback is refused 401. Works beside either LINE mode.
   */
  botSecretFor?: (botId: string) => string | null | undefined | Promise<string | null | undefined>;
  /** Shared de-duplication (the Store has `markOnce`); default an in-memory TTL set. */
  dedup?: DedupStore;
  /** How long an event ID is remembered (default 24 h). */
  dedupTtlMs?: number;
  /**
   * A durable inbox (the Store has it: every backend implements InboxStore). Events are written to
   * it before the 200 (that write is the duplicate check, so give no `dedup`), and handlers run
   * from it: an event accepted with 200 is handled even when the process dies first. Without it,
   * events wait in memory (faster; lost if the process dies before handling them).
   */
  inbox?: InboxStore;
  /**
   * How long a claimed inbox event is reserved for this instance (default 30 s). Extended every
   * third of it while its handler runs; after a crash, other instances (or this one restarted)
   * take the event once it runs out.
   */
  inboxLeaseMs?: number;
  /** How often the inbox is polled for events left by a restart or another instance (default 1 s). */
  inboxPollMs?: number;
  /** Largest accepted body (default 1 MiB = 1,048,576); larger gets 413. */
  maxBodyBytes?: number;
  /** The bot whose handlers receive events. Give this or `onEvent`. */
  bot?: EventDispatcher;
  /** A plain event callback, instead of a bot. */
  onEvent?: (event: WebhookEvent, info: DeliveryInfo) => unknown;
  /** Called on every refused request (after the response is decided). */
  onReject?: (info: RejectInfo) => void;
  /** Called on every accepted request with the number of events queued. */
  onAccept?: (info: { channelId: string; events: number; platform?: "line-works" }) => void;
  /** Where handler errors and notes go (pino-compatible); default warnings/errors to stderr. */
  logger?: Logger;
  /** Deliveries processed at the same time (default 32); events of one delivery run in order. */
  concurrency?: number;
  /**
   * Deliveries accepted but not yet handled, at most (default 10,000). Past it, a new delivery is
   * answered 503 `ERR_WEBHOOK_BUSY` (LINE redelivers it when redelivery is on) instead of growing
   * memory without bound while handlers or the dedup store lag behind.
   */
  maxPending?: number;
  /** How long a looked-up secret is reused (default 10 s; 0 looks up every request). */
  secretCacheMs?: number;
  /**
   * Clock in epoch ms (default Date.now): the secret cache, the busy-warning interval and the
   * default in-memory dedup follow it.
   */
  now?: () => number;
}

/** The resolved, frozen options the intake runs on. */
export interface ResolvedWebhookOptions {
  /** Single-channel mode: the secret; undefined in multi-channel mode. */
  readonly channelSecret: string | undefined;
  /** Single-channel mode: the channel ID; null in multi-channel mode. */
  readonly singleChannelId: string | null;
  readonly secretFor: WebhookOptions["secretFor"];
  readonly botSecretFor: WebhookOptions["botSecretFor"];
  readonly dedup: DedupStore;
  readonly dedupTtlMs: number;
  readonly inbox: InboxStore | undefined;
  readonly inboxLeaseMs: number;
  readonly inboxPollMs: number;
  readonly maxBodyBytes: number;
  readonly bot: EventDispatcher | undefined;
  readonly onEvent: WebhookOptions["onEvent"];
  readonly onReject: WebhookOptions["onReject"];
  readonly onAccept: WebhookOptions["onAccept"];
  readonly logger: Logger;
  readonly concurrency: number;
  readonly maxPending: number;
  readonly secretCacheMs: number;
  readonly now: () => number;
}

const KNOWN_OPTIONS = new Set<string>([
  "channelSecret", "channelId", "secretFor", "botSecretFor", "dedup", "dedupTtlMs", "inbox", "inboxLeaseMs", "inboxPollMs", "maxBodyBytes", "bot", "onEvent",
  "onReject", "onAccept", "logger", "concurrency", "maxPending", "secretCacheMs", "now",
] satisfies Array<keyof WebhookOptions>);

function assertObject(options: unknown): void {
  if (options === null || typeof options !== "object") throw new WebhookConfigError("Webhook options must be an object.");
}

function positiveInt(name: string, value: unknown, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new WebhookConfigError(`Webhook option ${name} must be a ${allowZero ? "non-negative" : "positive"} integer.`);
  }
  return value;
}

function optionalFunction<T>(name: string, value: T | undefined): T | undefined {
  if (value !== undefined && typeof value !== "function") throw new WebhookConfigError(`Webhook option ${name} must be a function.`);
  return value;
}

/**
 * Validates the core's options and freezes them. Unknown keys (adapter keys included) and
 * out-of-range values are refused with a WebhookConfigError naming the option. The caller's
 * object is never written.
 *
 * @example
 * ```ts
 * const resolved = resolveWebhookOptions({ channelSecret: "…", onEvent: (e) => console.log(e.type) });
 * resolved.maxBodyBytes; // 1048576
 * ```
 */
export function resolveWebhookOptions(options: WebhookOptions): ResolvedWebhookOptions {
  assertObject(options);
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw new WebhookConfigError(`Unknown webhook option "${key}".`);
  }
  const single = options.channelSecret !== undefined;
  if (single === (options.secretFor !== undefined)) {
    throw new WebhookConfigError("Give exactly one of channelSecret (one channel) or secretFor (many channels).");
  }
  if (single && (typeof options.channelSecret !== "string" || options.channelSecret.length === 0)) {
    throw new WebhookConfigError("channelSecret must be a non-empty string (the channel secret from the LINE Developers Console).");
  }
  if (options.bot !== undefined && options.onEvent !== undefined) {
    throw new WebhookConfigError("Give either bot or onEvent, not both.");
  }
  if (options.inbox !== undefined && options.dedup !== undefined) {
    throw new WebhookConfigError("Give either inbox or dedup, not both: the inbox de-duplicates by itself.");
  }
  if (options.inbox !== undefined && (typeof options.inbox !== "object" || options.inbox === null || typeof options.inbox.acceptEvent !== "function" || typeof options.inbox.claimEvents !== "function")) {
    throw new WebhookConfigError("Webhook option inbox must be a store with the inbox role (acceptEvent, claimEvents, finishEvent, …).");
  }
  const now = optionalFunction("now", options.now) ?? Date.now;
  return Object.freeze({
    channelSecret: options.channelSecret,
    singleChannelId: single ? (options.channelId ?? "default") : null,
    secretFor: optionalFunction("secretFor", options.secretFor),
    botSecretFor: optionalFunction("botSecretFor", options.botSecretFor),
    dedup: options.dedup ?? new MemoryDedup({ now }),
    dedupTtlMs: positiveInt("dedupTtlMs", options.dedupTtlMs, DEFAULT_DEDUP_TTL_MS),
    inbox: options.inbox,
    inboxLeaseMs: positiveInt("inboxLeaseMs", options.inboxLeaseMs, DEFAULTS.inboxLeaseMs),
    inboxPollMs: positiveInt("inboxPollMs", options.inboxPollMs, DEFAULTS.inboxPollMs),
    maxBodyBytes: positiveInt("maxBodyBytes", options.maxBodyBytes, DEFAULT_MAX_BODY_BYTES),
    bot: options.bot,
    onEvent: optionalFunction("onEvent", options.onEvent),
    onReject: optionalFunction("onReject", options.onReject),
    onAccept: optionalFunction("onAccept", options.onAccept),
    logger: options.logger ?? defaultLogger,
    concurrency: positiveInt("concurrency", options.concurrency, DEFAULTS.concurrency),
    maxPending: positiveInt("maxPending", options.maxPending, DEFAULTS.maxPending),
    secretCacheMs: positiveInt("secretCacheMs", options.secretCacheMs, DEFAULTS.secretCacheMs, true),
    now,
  });
}

/**
 * Takes an adapter's own keys off its options: `own` holds them, `core` the rest, for
 * {@link resolveWebhookOptions} (which refuses anything it does not know). Neither is the
 * caller's object.
 *
 * @example
 * ```ts
 * const { own, core } = splitAdapterOptions(options, ["channelIdFrom", "bodyTimeoutMs"]);
 * const intake = createIntake(core);
 * ```
 */
export function splitAdapterOptions<T extends WebhookOptions, K extends Exclude<keyof T, keyof WebhookOptions>>(
  options: T,
  keys: readonly K[],
): { own: Pick<T, K>; core: WebhookOptions } {
  assertObject(options);
  const own: Record<string, unknown> = {};
  const core: Record<string, unknown> = {};
  for (const key of Object.keys(options)) {
    const value = (options as Record<string, unknown>)[key];
    if ((keys as readonly string[]).includes(key)) own[key] = value;
    else core[key] = value;
  }
  return { own: own as Pick<T, K>, core: core as WebhookOptions };
}
