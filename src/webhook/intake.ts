/**
 * The runtime-agnostic heart of webhook intake, shared by the Request handler and the Node
 * adapters: options, secret lookup, signature decision, parsing, and the queue that runs event
 * handlers after the response. It never reads a request itself, so each front end reads the
 * body its own way and hands over the bytes.
 */
import { MemoryDedup, type DedupStore } from "./dedup.ts";
import { WebhookConfigError, WEBHOOK_REJECTION_CODES, type WebhookRejectionCode } from "./errors.ts";
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

/** What a handler learns about the delivery an event came in. */
export interface DeliveryInfo {
  channelId: string;
  /** The bot's user ID from the body. */
  destination: string;
}

/** Something that takes events: a {@link Bot} from createBot() fits. */
export interface EventDispatcher {
  dispatch(event: WebhookEvent, info: DeliveryInfo): Promise<void> | void;
}

/** Why a request was refused, for audit and metrics. Never holds the signature or body. */
export interface RejectInfo {
  channelId: string | null;
  status: number;
  code: WebhookRejectionCode;
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
  /** Shared de-duplication (the Store has `markOnce`); default an in-memory TTL set. */
  dedup?: DedupStore;
  /** How long an event ID is remembered (default 24 h). */
  dedupTtlMs?: number;
  /** Largest accepted body (default 1 MiB = 1,048,576); larger gets 413. */
  maxBodyBytes?: number;
  /** The bot whose handlers receive events. Give this or `onEvent`. */
  bot?: EventDispatcher;
  /** A plain event callback, instead of a bot. */
  onEvent?: (event: WebhookEvent, info: DeliveryInfo) => unknown;
  /** Called on every refused request (after the response is decided). */
  onReject?: (info: RejectInfo) => void;
  /** Called on every accepted request with the number of events queued. */
  onAccept?: (info: { channelId: string; events: number }) => void;
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
}

const KNOWN_OPTIONS = new Set([
  "channelSecret", "channelId", "secretFor", "dedup", "dedupTtlMs", "maxBodyBytes", "bot", "onEvent",
  "onReject", "onAccept", "logger", "concurrency", "maxPending", "secretCacheMs", "channelIdFrom", "bodyTimeoutMs",
]);

/** A response decided by the intake: status and a JSON body. */
export interface Outcome {
  status: number;
  body: string;
}

const MESSAGES: Record<WebhookRejectionCode, string> = {
  ERR_WEBHOOK_SIGNATURE:
    "x-line-signature is missing or does not match the body under this channel's secret (check the channel secret and that the URL names the right channel).",
  ERR_WEBHOOK_BODY_TOO_LARGE: "The request body is larger than the webhook limit.",
  ERR_WEBHOOK_BODY_TIMEOUT: "The request body did not arrive in time.",
  ERR_WEBHOOK_INVALID_JSON: "The signed body is not valid UTF-8 JSON.",
  ERR_WEBHOOK_INVALID_BODY: "The signed body is not a webhook object with an events array.",
  ERR_WEBHOOK_METHOD: "Webhooks are delivered with POST.",
  ERR_WEBHOOK_UNAVAILABLE: "The webhook receiver cannot look up the channel right now; LINE may redeliver later.",
  ERR_WEBHOOK_BUSY: "The webhook receiver has too many deliveries waiting to be handled; LINE may redeliver later.",
};

const REJECTIONS = Object.fromEntries(
  Object.entries(WEBHOOK_REJECTION_CODES).map(([code, status]) => [
    code,
    { status, body: JSON.stringify({ error: code, message: MESSAGES[code as WebhookRejectionCode] }) },
  ]),
) as Record<WebhookRejectionCode, Outcome>;

/** The 200 answer: no body (LINE reads only the status), so it costs what a bare 200 costs. */
export const OK: Outcome = { status: 200, body: "" };

/** Checks a signature; may answer synchronously (node:crypto) or not (WebCrypto). */
export type Verifier = (secret: string, body: Uint8Array, signature: string) => boolean | Promise<boolean>;

/** @internal The logger used when none is given: warnings and errors as JSON lines on the console. */
export const defaultLogger: Logger = {
  info() {},
  warn(fields, message) {
    console.warn(JSON.stringify({ level: "warn", msg: message, ...fields }));
  },
  error(fields, message) {
    console.error(JSON.stringify({ level: "error", msg: message, ...fields }));
  },
};

function positiveInt(name: string, value: unknown, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new WebhookConfigError(`Webhook option ${name} must be a ${allowZero ? "non-negative" : "positive"} integer.`);
  }
  return value;
}

interface Job {
  channelId: string;
  destination: string;
  events: unknown[];
  info?: DeliveryInfo;
  /** Per event, after the duplicate check: whether to deliver it. */
  fresh?: boolean[];
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** Strict UTF-8 decoding: the text, or null for invalid UTF-8. */
export type Utf8Decoder = (bytes: Uint8Array) => string | null;

/** The web-standard decoder (TextDecoder, fatal). */
export const webUtf8Decoder: Utf8Decoder = (bytes) => {
  try {
    return decoder.decode(bytes);
  } catch {
    return null;
  }
};

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === "function";
}

/** A short, secret-free description of an error for logs. */
export function describeError(err: unknown): Record<string, unknown> {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { name: err.name, ...(typeof code === "string" ? { code } : {}), message: err.message };
  }
  return { message: String(err) };
}

/**
 * The intake shared by every front end. Created once per handler from validated options.
 *
 * @example
 * ```ts
 * const intake = createIntake({ channelSecret: "…", onEvent: (e) => console.log(e.type) });
 * const outcome = await intake.process("default", signatureHeader, bodyBytes, verifyWithWebCrypto);
 * ```
 */
export function createIntake(options: WebhookOptions, runtime: { decode?: Utf8Decoder } = {}) {
  if (options === null || typeof options !== "object") throw new WebhookConfigError("Webhook options must be an object.");
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
  const maxBodyBytes = positiveInt("maxBodyBytes", options.maxBodyBytes, DEFAULT_MAX_BODY_BYTES);
  const dedupTtlMs = positiveInt("dedupTtlMs", options.dedupTtlMs, DEFAULT_DEDUP_TTL_MS);
  const concurrency = positiveInt("concurrency", options.concurrency, 32);
  const maxPending = positiveInt("maxPending", options.maxPending, 10_000);
  const secretCacheMs = positiveInt("secretCacheMs", options.secretCacheMs, 10_000, true);
  const logger = options.logger ?? defaultLogger;
  const decode = runtime.decode ?? webUtf8Decoder;
  const dedup = options.dedup ?? new MemoryDedup();
  const memoryDedup = dedup instanceof MemoryDedup ? dedup : null;
  const singleChannelId = options.channelId ?? "default";
  const singleSecret = options.channelSecret;
  const secretFor = options.secretFor;
  const bot = options.bot;
  const onEvent = options.onEvent;
  const onReject = options.onReject;
  const onAccept = options.onAccept;
  // Unknown channels are checked against a random secret so they cost the same as known ones. Made
  // on first use: Cloudflare Workers refuse random values at a module's top level, where a Worker
  // creates its handler (`export default { fetch: createWebhookHandler(…) }`).
  let decoy: string | undefined;
  const decoySecret = (): string => (decoy ??= Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join(""));

  // --- secret lookup, cached briefly (found and not found alike) ---
  const secretCache = new Map<string, { secret: string | null; until: number }>();
  function lookup(channelId: string): string | null | Promise<string | null> {
    if (singleSecret !== undefined) return singleSecret;
    if (secretCacheMs > 0) {
      const hit = secretCache.get(channelId);
      if (hit !== undefined && hit.until > Date.now()) return hit.secret;
    }
    const remember = (s: string | null | undefined): string | null => {
      const secret = typeof s === "string" && s.length > 0 ? s : null;
      if (secretCacheMs > 0) {
        if (secretCache.size >= 10_000) secretCache.clear();
        secretCache.set(channelId, { secret, until: Date.now() + secretCacheMs });
      }
      return secret;
    };
    const got = secretFor!(channelId);
    return isPromise(got) ? got.then(remember) : remember(got);
  }

  function reject(channelId: string | null, code: WebhookRejectionCode): Outcome {
    const outcome = REJECTIONS[code];
    if (onReject !== undefined) {
      try {
        onReject({ channelId, status: outcome.status, code });
      } catch (err) {
        logger.error({ err: describeError(err) }, "webhook onReject hook failed");
      }
    }
    return outcome;
  }

  // --- the queue: events run after the response, in two stages. Duplicate checks start for
  // every accepted delivery at once (a shared store batches them; they must not wait for a
  // handler slot, or a store round trip per delivery would cap the intake's rate). Checked
  // deliveries then run their handlers, at most `concurrency` at once, each one's events in order.
  // Accepted deliveries; pump() takes them all at once, so no read index is needed here.
  const queue: Job[] = [];
  const ready: Job[] = [];
  let readyHead = 0;
  let checking = 0;
  let running = 0;
  let scheduled = false;
  let idleWaiters: Array<() => void> = [];
  let lastBusyWarning = -Infinity;
  // After the current I/O callbacks, so the response is on its way before handlers start; a
  // macrotask either way, never a microtask. setImmediate where the runtime has it (cheaper than
  // a timer and no 1 ms floor, so parsed bodies die young), else setTimeout.
  const later: (fn: () => void) => void =
    typeof (globalThis as { setImmediate?: unknown }).setImmediate === "function"
      ? (fn) => void (globalThis as unknown as { setImmediate(fn: () => void): unknown }).setImmediate(fn)
      : (fn) => void setTimeout(fn, 0);

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    later(pump);
  }

  function pending(): number {
    return queue.length + checking + (ready.length - readyHead) + running;
  }

  function pump(): void {
    scheduled = false;
    for (const job of queue) {
      const marks = check(job);
      if (marks === undefined) ready.push(job);
      else {
        checking++;
        marks.then(checked(job));
      }
    }
    queue.length = 0;
    while (running < concurrency && readyHead < ready.length) {
      const job = ready[readyHead]!;
      ready[readyHead++] = undefined as unknown as Job;
      running++;
      const busy = run(job, 0);
      if (busy === undefined) running--;
      else busy.then(done);
    }
    if (readyHead === ready.length) {
      ready.length = 0;
      readyHead = 0;
    }
    settleIdle();
  }

  function checked(job: Job): () => void {
    return () => {
      checking--;
      ready.push(job);
      schedule();
    };
  }

  function done(): void {
    running--;
    if (readyHead < ready.length) schedule();
    else settleIdle();
  }

  function settleIdle(): void {
    if (pending() === 0 && !scheduled && idleWaiters.length > 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  function handlerFailed(job: Job, event: WebhookEvent, err: unknown): void {
    logger.error(
      { channelId: job.channelId, eventType: event.type, webhookEventId: event.webhookEventId, err: describeError(err) },
      "webhook event handler failed",
    );
  }

  function duplicate(job: Job, id: string): void {
    logger.debug?.({ channelId: job.channelId, webhookEventId: id }, "duplicate webhook event skipped");
  }

  function dedupFailed(job: Job, id: string, err: unknown): void {
    // Fail open: a duplicate is better than a lost event when the shared store is down.
    logger.error({ channelId: job.channelId, webhookEventId: id, err: describeError(err) }, "webhook de-duplication failed; processing the event anyway");
  }

  /**
   * Decides job.fresh: which events to deliver (well-formed, and not seen before when they carry
   * a webhookEventId). Undefined when decided synchronously (the in-memory dedup), else a promise
   * that never rejects.
   */
  function check(job: Job): Promise<unknown> | undefined {
    const events = job.events;
    const fresh: boolean[] = (job.fresh = new Array<boolean>(events.length).fill(false));
    let waits: Array<Promise<void>> | undefined;
    for (let i = 0; i < events.length; i++) {
      const raw = events[i];
      if (raw === null || typeof raw !== "object" || Array.isArray(raw)) continue;
      const event = raw as WebhookEvent;
      if (typeof event.type !== "string") continue;
      const id = event.webhookEventId;
      if (typeof id !== "string" || id.length === 0) {
        fresh[i] = true;
        continue;
      }
      const key = `webhook:${job.channelId}:${id}`;
      if (memoryDedup !== null) {
        if (memoryDedup.markOnceSync(key, dedupTtlMs)) fresh[i] = true;
        else duplicate(job, id);
        continue;
      }
      let marked: Promise<boolean>;
      try {
        marked = dedup.markOnce(key, dedupTtlMs);
      } catch (err) {
        marked = Promise.reject(err);
      }
      const at = i;
      (waits ??= []).push(
        marked.then(
          (isFresh) => {
            if (isFresh) fresh[at] = true;
            else duplicate(job, id);
          },
          (err: unknown) => {
            dedupFailed(job, id, err);
            fresh[at] = true;
          },
        ),
      );
    }
    if (waits === undefined) return undefined;
    return waits.length === 1 ? waits[0] : Promise.all(waits);
  }

  /**
   * Delivers job's fresh events from index `i` on, in order. Runs synchronously as long as the
   * handlers do and returns undefined; returns a promise (that never rejects) from the first
   * asynchronous handler on.
   */
  function run(job: Job, i: number): Promise<void> | undefined {
    const events = job.events;
    const fresh = job.fresh!;
    for (; i < events.length; i++) {
      if (!fresh[i]) continue;
      const busy = deliver(job, events[i] as WebhookEvent);
      if (busy !== undefined) {
        const next = i + 1;
        return busy.then(() => run(job, next));
      }
    }
    return undefined;
  }

  /** Calls the handler; a promise (never rejecting) only when the handler returned one. */
  function deliver(job: Job, event: WebhookEvent): Promise<void> | undefined {
    let result: unknown;
    try {
      const info = (job.info ??= { channelId: job.channelId, destination: job.destination });
      result = bot !== undefined ? bot.dispatch(event, info) : onEvent?.(event, info);
    } catch (err) {
      handlerFailed(job, event, err);
      return undefined;
    }
    if (isPromise(result)) {
      return (result as Promise<unknown>).then(
        () => undefined,
        (err: unknown) => handlerFailed(job, event, err),
      );
    }
    return undefined;
  }

  function accept(channelId: string, body: Uint8Array): Outcome {
    let parsed: unknown;
    try {
      const text = decode(body);
      if (text === null) return reject(channelId, "ERR_WEBHOOK_INVALID_JSON");
      parsed = JSON.parse(text);
    } catch {
      return reject(channelId, "ERR_WEBHOOK_INVALID_JSON");
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return reject(channelId, "ERR_WEBHOOK_INVALID_BODY");
    const { events, destination } = parsed as { events?: unknown; destination?: unknown };
    if (!Array.isArray(events)) return reject(channelId, "ERR_WEBHOOK_INVALID_BODY");
    if (events.length > 0) {
      if (pending() >= maxPending) {
        // One line per 10 s at most: an overload must not also flood the logs.
        const now = Date.now();
        if (now - lastBusyWarning >= 10_000) {
          lastBusyWarning = now;
          logger.warn({ channelId, pending: pending(), maxPending }, "webhook deliveries refused with 503: too many waiting to be handled");
        }
        return reject(channelId, "ERR_WEBHOOK_BUSY");
      }
      queue.push({ channelId, destination: typeof destination === "string" ? destination : "", events });
      schedule();
    }
    if (onAccept !== undefined) {
      try {
        onAccept({ channelId, events: events.length });
      } catch (err) {
        logger.error({ err: describeError(err) }, "webhook onAccept hook failed");
      }
    }
    return OK;
  }

  function afterVerify(channelId: string, known: boolean, ok: boolean, body: Uint8Array): Outcome {
    if (!ok || !known) return reject(channelId, "ERR_WEBHOOK_SIGNATURE");
    return accept(channelId, body);
  }

  function withSecret(channelId: string, secret: string | null, signature: string, body: Uint8Array, verify: Verifier): Outcome | Promise<Outcome> {
    const ok = verify(secret ?? decoySecret(), body, signature);
    if (isPromise(ok)) return ok.then((v) => afterVerify(channelId, secret !== null, v, body));
    return afterVerify(channelId, secret !== null, ok, body);
  }

  return {
    maxBodyBytes,
    logger,
    /** Whether the channel ID maps to this intake: always true in single-channel mode. */
    singleChannelId: single ? singleChannelId : null,
    /** The refusal for `code` (and the onReject call), for front ends that decide early. */
    reject,
    /**
     * Decides the response for a body that was read in full (at most maxBodyBytes). Synchronous
     * when the secret lookup and the verifier are.
     */
    process(channelId: string | null, signature: string | null, body: Uint8Array, verify: Verifier): Outcome | Promise<Outcome> {
      const id = single ? singleChannelId : channelId;
      if (id === null || signature === null || signature.length === 0) return reject(id, "ERR_WEBHOOK_SIGNATURE");
      let secret: string | null | Promise<string | null>;
      try {
        secret = lookup(id);
      } catch (err) {
        logger.error({ channelId: id, err: describeError(err) }, "webhook secret lookup failed");
        return reject(id, "ERR_WEBHOOK_UNAVAILABLE");
      }
      if (isPromise(secret)) {
        return secret.then(
          (s) => withSecret(id, s, signature, body, verify),
          (err: unknown) => {
            logger.error({ channelId: id, err: describeError(err) }, "webhook secret lookup failed");
            return reject(id, "ERR_WEBHOOK_UNAVAILABLE");
          },
        );
      }
      return withSecret(id, secret, signature, body, verify);
    },
    /** Resolves once every queued event has been handled (for shutdown and tests). */
    drain(): Promise<void> {
      if (pending() === 0 && !scheduled) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    /** Deliveries accepted and not yet handled: waiting, being checked for duplicates, or running. */
    get pending(): number {
      return pending();
    },
  };
}

/** The intake object createIntake() returns. */
export type Intake = ReturnType<typeof createIntake>;

/**
 * The channel ID in a URL path: its last non-empty segment, when it looks like an ID (letters,
 * digits, `._-`, at most 64 characters). Null otherwise.
 *
 * @example
 * ```ts
 * channelIdFromPath("/webhook/1234567890"); // "1234567890"
 * ```
 */
export function channelIdFromPath(pathname: string): string | null {
  let end = pathname.length;
  const q = pathname.indexOf("?");
  if (q !== -1) end = q;
  while (end > 0 && pathname.charCodeAt(end - 1) === 47) end--;
  const start = pathname.lastIndexOf("/", end - 1) + 1;
  if (end - start < 1 || end - start > 64) return null;
  // A loop, not a regular expression: this runs on every delivery.
  for (let i = start; i < end; i++) {
    const c = pathname.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 46 || c === 95 || c === 45;
    if (!ok) return null;
  }
  return pathname.slice(start, end);
}
