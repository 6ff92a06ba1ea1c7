/**
 * node:http adapter: a `(req, res)` listener for `http.createServer`. Reads the raw body from
 * the IncomingMessage (counting bytes against the limit), checks the signature with node:crypto
 * synchronously, and answers without building a web Request.
 */
import { isUtf8 } from "node:buffer";
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { verifyWebhookSignatureSync } from "./node-signature.ts";
import { WebhookConfigError } from "../errors.ts";
import { createIntake, splitAdapterOptions, type Intake, type Outcome, type Verifier, type WebhookOptions } from "../intake.ts";
import { describeError } from "../log.ts";
import { channelIdFromPath, type Utf8Decoder } from "../parse.ts";
import { LINE_PLATFORM, LINE_WORKS_PLATFORM, type BodyDigest, type WebhookPlatform } from "../platform.ts";

/** Options of {@link createNodeWebhookListener}. */
export interface NodeWebhookOptions extends WebhookOptions {
  /** Multi-channel mode: the channel a request is for (default: the last segment of req.url's path). */
  channelIdFrom?: (req: IncomingMessage) => string | null | undefined;
  /** Deadline for the whole body, ms (default 10000); a slower body gets 408 and the connection is closed. */
  bodyTimeoutMs?: number;
}

/** A body being read, with the moment it is late and what to do then; linked into its intake's deadlines. */
interface Deadline {
  until: number;
  expire(): void;
  prev: Deadline | null;
  next: Deadline | null;
}

/**
 * Bodies being read, swept once a second: a shared sweep costs two links per request where a
 * timer per request would cost a timer (and a Set an identity hash and a table slot).
 */
class BodyDeadlines {
  readonly ms: number;
  #head: Deadline | null = null;
  #tail: Deadline | null = null;
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(ms: number) {
    this.ms = ms;
  }

  add(d: Deadline): void {
    d.prev = this.#tail;
    d.next = null;
    if (this.#tail === null) this.#head = d;
    else this.#tail.next = d;
    this.#tail = d;
    if (this.#timer === null) {
      this.#timer = setInterval(() => this.#sweep(), Math.min(1000, this.ms));
      this.#timer.unref();
    }
  }

  /** Unlinks `d`; a no-op when it is not linked (already expired or deleted). */
  delete(d: Deadline): void {
    if (d.prev === null && this.#head !== d) return;
    if (d.prev === null) this.#head = d.next;
    else d.prev.next = d.next;
    if (d.next === null) this.#tail = d.prev;
    else d.next.prev = d.prev;
    d.prev = null;
    d.next = null;
  }

  #sweep(): void {
    const now = Date.now();
    for (let d = this.#head; d !== null; ) {
      const next = d.next;
      if (d.until <= now) {
        this.delete(d);
        d.expire();
      }
      d = next;
    }
    if (this.#head === null && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }
}

const deadlinesOf = new WeakMap<Intake, BodyDeadlines>();

/** The body deadlines of an intake (default 10 s), made once per intake. */
export function bodyDeadlines(intake: Intake, ms = 10_000): BodyDeadlines {
  let d = deadlinesOf.get(intake);
  if (d === undefined) {
    if (!Number.isInteger(ms) || ms < 1) throw new WebhookConfigError("Webhook option bodyTimeoutMs must be a positive integer.");
    deadlinesOf.set(intake, (d = new BodyDeadlines(ms)));
  }
  return d;
}

/** A node:http listener, with a way to wait for queued events. */
export interface NodeWebhookListener {
  (req: IncomingMessage, res: ServerResponse): void;
  /**
   * The same intake for LINE WORKS bot callbacks (`X-WORKS-Signature`, the bot's secret from
   * `botSecretFor`): mount it at a URL whose last path segment is the bot ID, e.g.
   * `/webhook/works/{botId}`. Events go through the same queue or inbox as LINE's.
   */
  works(req: IncomingMessage, res: ServerResponse): void;
  drain(): Promise<void>;
  /** Stops the inbox's polling and lease extension (after drain, on shutdown); a no-op without an inbox. */
  close(): Promise<void>;
  readonly pending: number;
}

/**
 * Strict UTF-8 decoding with Node's validator: a little cheaper than a fatal TextDecoder.
 *
 * @example
 * ```ts
 * nodeUtf8Decoder(Buffer.from([0xc3, 0x28])); // null: not UTF-8
 * ```
 */
export const nodeUtf8Decoder: Utf8Decoder = (bytes) => {
  if (!isUtf8(bytes)) return null;
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Like TextDecoder (ignoreBOM false), a leading BOM is not part of the text.
  return buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? buf.toString("utf8", 3) : buf.toString("utf8");
};

/** SHA-256 hex with node:crypto (synchronous): the LINE WORKS de-duplication digest. */
export const nodeDigest: BodyDigest = (botId, body) => createHash("sha256").update(botId).update(NUL).update(body).digest("hex");
const NUL = Buffer.from([0]);

/** The node:crypto verifier (synchronous). */
export const nodeVerifier: Verifier = verifyWebhookSignatureSync;

const HEADERS: Record<string, string> = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };

/** Writes an outcome. After a refusal mid-body the connection is closed so the rest is not read. */
export function sendOutcome(res: ServerResponse, outcome: Outcome, close = false, extra?: Record<string, string>): void {
  if (res.headersSent || res.destroyed) return;
  res.statusCode = outcome.status;
  if (outcome.body === "") {
    res.end();
    return;
  }
  for (const k in HEADERS) res.setHeader(k, HEADERS[k]!);
  if (extra !== undefined) for (const k in extra) res.setHeader(k, extra[k]!);
  if (close) res.setHeader("connection", "close");
  res.end(outcome.body);
}

/** Decides and sends the answer for a body read in full. */
function finishRequest(intake: Intake, channelId: string, signature: string, body: Uint8Array, res: ServerResponse, platform: WebhookPlatform): void {
  let out: Outcome | Promise<Outcome>;
  try {
    out = intake.process(channelId, signature, body, nodeVerifier, platform);
  } catch (err) {
    // Never let one request take the process down.
    intake.logger.error({ channelId, err: describeError(err) }, "webhook intake failed");
    return sendOutcome(res, intake.reject(channelId, "ERR_WEBHOOK_UNAVAILABLE", platform));
  }
  if (out instanceof Promise) {
    out.then(
      (o) => sendOutcome(res, o),
      () => sendOutcome(res, intake.reject(channelId, "ERR_WEBHOOK_UNAVAILABLE", platform)),
    );
  } else sendOutcome(res, out);
}

/**
 * One body being read: its state in one object that the shared listeners below find on the
 * request, where a closure per listener would cost four allocations per delivery.
 */
class BodyRead implements Deadline {
  readonly intake: Intake;
  readonly deadlines: BodyDeadlines;
  readonly channelId: string;
  readonly signature: string;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly platform: WebhookPlatform;
  readonly until: number;
  chunks: Buffer[] = [];
  total = 0;
  over = false;
  prev: Deadline | null = null;
  next: Deadline | null = null;

  constructor(intake: Intake, channelId: string, signature: string, req: IncomingMessage, res: ServerResponse, platform: WebhookPlatform) {
    this.intake = intake;
    this.deadlines = bodyDeadlines(intake);
    this.channelId = channelId;
    this.signature = signature;
    this.req = req;
    this.res = res;
    this.platform = platform;
    this.until = Date.now() + this.deadlines.ms;
  }

  /** The body is late: 408, then the rest is not read. */
  expire(): void {
    if (this.over) return;
    this.#refuse("ERR_WEBHOOK_BODY_TIMEOUT");
    const req = this.req;
    this.res.once("finish", () => req.destroy());
  }

  data(chunk: Buffer): void {
    if (this.over) return;
    this.total += chunk.length;
    if (this.total > this.intake.maxBodyBytes) {
      this.deadlines.delete(this);
      this.#refuse("ERR_WEBHOOK_BODY_TOO_LARGE");
      return;
    }
    this.chunks.push(chunk);
  }

  end(): void {
    this.deadlines.delete(this);
    if (this.over) return;
    const chunks = this.chunks;
    finishRequest(this.intake, this.channelId, this.signature, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.total), this.res, this.platform);
  }

  /** Aborted upload: nothing to answer to. */
  abort(): void {
    this.deadlines.delete(this);
    this.over = true;
  }

  #refuse(code: "ERR_WEBHOOK_BODY_TIMEOUT" | "ERR_WEBHOOK_BODY_TOO_LARGE"): void {
    this.over = true;
    this.chunks.length = 0;
    sendOutcome(this.res, this.intake.reject(this.channelId, code, this.platform), true);
  }
}

const READ = Symbol("kagiya.webhookBody");
type Reading = IncomingMessage & { [READ]: BodyRead };
function onData(this: Reading, chunk: Buffer): void {
  this[READ].data(chunk);
}
function onEnd(this: Reading): void {
  this[READ].end();
}
function onError(this: Reading): void {
  this[READ].abort();
}

/**
 * Handles one request with a given intake: shared by the node:http and Express adapters.
 * `preread` is a body some framework already read as raw bytes.
 */
export function handleNodeRequest(intake: Intake, channelId: string | null, req: IncomingMessage, res: ServerResponse, preread?: Uint8Array, platform: WebhookPlatform = LINE_PLATFORM): void {
  if (req.method !== "POST") {
    req.resume();
    return sendOutcome(res, intake.reject(channelId, "ERR_WEBHOOK_METHOD", platform), false, { allow: "POST" });
  }
  const raw = req.headers[platform.signatureHeader];
  const signature = typeof raw === "string" ? raw : null;
  if (signature === null || signature.length === 0 || channelId === null) {
    req.resume();
    return sendOutcome(res, intake.reject(channelId, "ERR_WEBHOOK_SIGNATURE", platform));
  }
  if (preread !== undefined) {
    if (preread.byteLength > intake.maxBodyBytes) return sendOutcome(res, intake.reject(channelId, "ERR_WEBHOOK_BODY_TOO_LARGE", platform));
    return finishRequest(intake, channelId, signature, preread, res, platform);
  }
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > intake.maxBodyBytes) {
    req.resume();
    return sendOutcome(res, intake.reject(channelId, "ERR_WEBHOOK_BODY_TOO_LARGE", platform), true);
  }
  const read = new BodyRead(intake, channelId, signature, req, res, platform);
  read.deadlines.add(read);
  (req as Reading)[READ] = read;
  req.on("data", onData);
  req.on("end", onEnd);
  req.on("error", onError);
}

/**
 * Creates a node:http listener for LINE webhooks.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { createNodeWebhookListener } from "kagiya/webhook";
 * createServer(createNodeWebhookListener({ channelSecret: process.env.LINE_CHANNEL_SECRET!, bot })).listen(3000);
 * ```
 */
export function createNodeWebhookListener(options: NodeWebhookOptions): NodeWebhookListener {
  const { own, core } = splitAdapterOptions(options, ["channelIdFrom", "bodyTimeoutMs"]);
  const intake = createIntake(core, { decode: nodeUtf8Decoder, digest: nodeDigest });
  bodyDeadlines(intake, own.bodyTimeoutMs);
  const channelIdFrom = own.channelIdFrom;
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    let channelId = intake.singleChannelId;
    if (channelId === null) {
      try {
        channelId = channelIdFrom !== undefined ? (channelIdFrom(req) ?? null) : channelIdFromPath(req.url ?? "");
      } catch {
        channelId = null;
      }
    }
    handleNodeRequest(intake, channelId, req, res);
  };
  const works = (req: IncomingMessage, res: ServerResponse): void => {
    handleNodeRequest(intake, channelIdFromPath(req.url ?? ""), req, res, undefined, LINE_WORKS_PLATFORM);
  };
  return Object.defineProperties(listener, {
    works: { value: works },
    drain: { value: () => intake.drain() },
    close: { value: () => intake.close() },
    pending: { get: () => intake.pending },
  }) as NodeWebhookListener;
}
