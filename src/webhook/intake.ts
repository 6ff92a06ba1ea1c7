/**
 * The runtime-agnostic heart of webhook intake, shared by the Request handler and the Node
 * adapters: it decides the response for a body that was read in full. It never reads a request
 * itself, so each front end reads the body its own way and hands over the bytes. The parts live
 * in their own modules: options (./options.ts), secrets (./secrets.ts), parsing (./parse.ts),
 * answers (./outcomes.ts) and the queue that runs handlers after the response (./queue.ts).
 */
import type { WebhookRejectionCode } from "./errors.ts";
import { describeError, isPromise } from "./log.ts";
import { resolveWebhookOptions, type WebhookOptions } from "./options.ts";
import { createRejecter, OK, type Outcome } from "./outcomes.ts";
import { webUtf8Decoder, type Utf8Decoder } from "./parse.ts";
import { LINE_PLATFORM, webDigest, type BodyDigest, type WebhookPlatform } from "./platform.ts";
import { InboxRunner } from "./inbox.ts";
import { DeliveryQueue, type Delivery } from "./queue.ts";
import { SecretCache } from "./secrets.ts";
import type { Logger } from "./types.ts";

export { defaultLogger, describeError } from "./log.ts";
export {
  DEFAULT_DEDUP_TTL_MS,
  DEFAULT_MAX_BODY_BYTES,
  splitAdapterOptions,
  type DeliveryInfo,
  type EventDispatcher,
  type RejectInfo,
  type WebhookOptions,
} from "./options.ts";
export { OK, type Outcome } from "./outcomes.ts";
export { channelIdFromPath, webUtf8Decoder, type Utf8Decoder } from "./parse.ts";
export { LINE_PLATFORM, LINE_WORKS_PLATFORM, webDigest, type BodyDigest, type WebhookPlatform, type WebhookPlatformName } from "./platform.ts";

/** Checks a signature; may answer synchronously (node:crypto) or not (WebCrypto). */
export type Verifier = (secret: string, body: Uint8Array, signature: string) => boolean | Promise<boolean>;

/** The intake createIntake() returns. */
export interface Intake {
  readonly maxBodyBytes: number;
  readonly logger: Logger;
  /** The channel ID in single-channel mode (every request is for it), else null. */
  readonly singleChannelId: string | null;
  /** The refusal for `code` (and the onReject call), for front ends that decide early. */
  reject(channelId: string | null, code: WebhookRejectionCode, platform?: WebhookPlatform): Outcome;
  /**
   * Decides the response for a body that was read in full (at most maxBodyBytes). Synchronous
   * when the secret lookup, the verifier (and for LINE WORKS the digest) are. `platform` (default
   * LINE) says whose delivery it is; `channelId` is then the LINE WORKS bot ID.
   */
  process(channelId: string | null, signature: string | null, body: Uint8Array, verify: Verifier, platform?: WebhookPlatform): Outcome | Promise<Outcome>;
  /** Resolves once every queued event has been handled (for shutdown and tests). */
  drain(): Promise<void>;
  /** Deliveries accepted and not yet handled: waiting, being checked for duplicates, or running. */
  readonly pending: number;
  /** Stops the inbox's polling (no-op without an inbox); call after drain() on shutdown. */
  close(): Promise<void>;
}

/**
 * The intake shared by every front end. Created once per handler; its options are validated and
 * frozen here (adapters take their own keys off first, see {@link splitAdapterOptions}).
 *
 * @example
 * ```ts
 * const intake = createIntake({ channelSecret: "…", onEvent: (e) => console.log(e.type) });
 * const outcome = await intake.process("default", signatureHeader, bodyBytes, verifyWithWebCrypto);
 * ```
 */
export function createIntake(options: WebhookOptions, runtime: { decode?: Utf8Decoder; digest?: BodyDigest } = {}): Intake {
  const o = resolveWebhookOptions(options);
  const { logger, onAccept, singleChannelId } = o;
  const decode = runtime.decode ?? webUtf8Decoder;
  const digest = runtime.digest ?? webDigest;
  const secrets = new SecretCache(o);
  // LINE WORKS bots have secrets of their own, looked up and cached apart from channels'.
  const botSecrets = o.botSecretFor !== undefined ? new SecretCache({ ...o, channelSecret: undefined, secretFor: o.botSecretFor }) : null;
  const runner = o.inbox !== undefined ? new InboxRunner(o) : null;
  const queue = runner === null ? new DeliveryQueue(o) : null;
  const reject = createRejecter(o);
  // Unknown channels are checked against a random secret so they cost the same as known ones.
  // Made on first use: Cloudflare Workers refuse random values at a module's top level, where a
  // Worker creates its handler (`export default { fetch: createWebhookHandler(…) }`).
  let decoy: string | undefined;
  const decoySecret = (): string => (decoy ??= Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join(""));

  function accept(channelId: string, body: Uint8Array, platform: WebhookPlatform): Outcome | Promise<Outcome> {
    const delivery = platform.split(channelId, body, decode);
    if (typeof delivery === "string") return reject(channelId, delivery, platform.name);
    const { events, destination } = delivery;
    if (events.length === 0) return accepted(channelId, 0, platform);
    if (!delivery.keyedByDigest) return enqueue({ channelId, destination, events, platform, digest: null });
    const d = digest(channelId, body);
    if (isPromise(d)) return d.then((hex) => enqueue({ channelId, destination, events, platform, digest: hex }));
    return enqueue({ channelId, destination, events, platform, digest: d });
  }

  function enqueue(delivery: Delivery & { platform: WebhookPlatform }): Outcome | Promise<Outcome> {
    const { channelId, platform } = delivery;
    const count = delivery.events.length;
    if (runner !== null) {
      // The 200 only once the events are in the inbox: a crash after it loses nothing.
      const written = runner.offer(delivery);
      if (written === "busy") return reject(channelId, "ERR_WEBHOOK_BUSY", platform.name);
      return written.then((ok) => (ok ? accepted(channelId, count, platform) : reject(channelId, "ERR_WEBHOOK_UNAVAILABLE", platform.name)));
    }
    if (!queue!.offer(delivery)) return reject(channelId, "ERR_WEBHOOK_BUSY", platform.name);
    return accepted(channelId, count, platform);
  }

  function accepted(channelId: string, events: number, platform: WebhookPlatform): Outcome {
    if (onAccept !== undefined) {
      try {
        onAccept(platform === LINE_PLATFORM ? { channelId, events } : { channelId, events, platform: "line-works" });
      } catch (err) {
        logger.error({ err: describeError(err) }, "webhook onAccept hook failed");
      }
    }
    return OK;
  }

  function afterVerify(channelId: string, known: boolean, ok: boolean, body: Uint8Array, platform: WebhookPlatform): Outcome | Promise<Outcome> {
    if (!ok || !known) return reject(channelId, "ERR_WEBHOOK_SIGNATURE", platform.name);
    return accept(channelId, body, platform);
  }

  function withSecret(channelId: string, secret: string | null, signature: string, body: Uint8Array, verify: Verifier, platform: WebhookPlatform): Outcome | Promise<Outcome> {
    const ok = verify(secret ?? decoySecret(), body, signature);
    if (isPromise(ok)) return ok.then((v) => afterVerify(channelId, secret !== null, v, body, platform));
    return afterVerify(channelId, secret !== null, ok, body, platform);
  }

  function lookupFailed(channelId: string, err: unknown, platform: WebhookPlatform): Outcome {
    logger.error({ channelId, ...(platform === LINE_PLATFORM ? {} : { platform: platform.name }), err: describeError(err) }, "webhook secret lookup failed");
    return reject(channelId, "ERR_WEBHOOK_UNAVAILABLE", platform.name);
  }

  function lookup(id: string, platform: WebhookPlatform): string | null | Promise<string | null> {
    if (platform === LINE_PLATFORM) return secrets.lookup(id);
    // No bot secrets configured: every bot is unknown (checked against the decoy all the same).
    return botSecrets === null ? null : botSecrets.lookup(id);
  }

  return {
    maxBodyBytes: o.maxBodyBytes,
    logger,
    singleChannelId,
    reject: (channelId, code, platform) => reject(channelId, code, platform?.name),
    process(channelId, signature, body, verify, platform = LINE_PLATFORM) {
      // Single-channel mode names the LINE channel; a LINE WORKS bot is always named by its URL.
      const id = platform === LINE_PLATFORM ? (singleChannelId ?? channelId) : channelId;
      if (id === null || signature === null || signature.length === 0) return reject(id, "ERR_WEBHOOK_SIGNATURE", platform.name);
      let secret: string | null | Promise<string | null>;
      try {
        secret = lookup(id, platform);
      } catch (err) {
        return lookupFailed(id, err, platform);
      }
      if (isPromise(secret)) {
        return secret.then(
          (s) => withSecret(id, s, signature, body, verify, platform),
          (err: unknown) => lookupFailed(id, err, platform),
        );
      }
      return withSecret(id, secret, signature, body, verify, platform);
    },
    drain: () => (runner ?? queue!).drain(),
    close: async () => runner?.stop(),
    get pending() {
      return (runner ?? queue!).pending;
    },
  };
}
