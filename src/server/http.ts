import type { IncomingMessage, ServerResponse } from "node:http";
import { HttpError } from "./errors.ts";

/** Headers every JSON answer carries: no caching, no sniffing. */
const JSON_HEADERS = {
  "content-type": "application/json; charset=utf-8",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
} as const;

/**
 * Writes `body` as JSON with `status` and `Cache-Control: no-store`.
 *
 * @example
 * ```ts
 * sendJson(res, 200, { ok: true });
 * ```
 */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  const text = JSON.stringify(body);
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, headers ? { ...JSON_HEADERS, ...headers, "content-length": Buffer.byteLength(text) } : { ...JSON_HEADERS, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Answers an error as `{"error": "<code>", "message": "..."}` (the webhook intake's shape too). Anything that is not an {@link HttpError}
 * becomes a 500 with a generic message: internals never reach the caller.
 *
 * @example
 * ```ts
 * sendError(res, new HttpError(404, "ERR_NOT_FOUND", "no such route"));
 * ```
 */
export function sendError(res: ServerResponse, error: unknown): void {
  if (error instanceof HttpError) {
    sendJson(res, error.status, { error: error.code, message: error.message }, error.headers);
    return;
  }
  sendJson(res, 500, { error: "ERR_INTERNAL", message: "internal error; the server log has details" });
}

/** Options of {@link readBody}. */
export interface ReadBodyOptions {
  /** Largest body accepted, bytes. */
  limit: number;
  /** Whole-body deadline, ms: a slow sender gets 408 instead of holding a socket forever. */
  timeoutMs: number;
}

/**
 * Reads the whole request body with a size limit (413) and a deadline (408).
 *
 * @example
 * ```ts
 * const raw = await readBody(req, { limit: 65536, timeoutMs: 10_000 });
 * ```
 */
export function readBody(req: IncomingMessage, options: ReadBodyOptions): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > options.limit) {
    return Promise.reject(tooLarge(options.limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (error: HttpError | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      if (error) {
        // Stop reading; the connection is closed after the answer so the rest is never parsed.
        req.resume();
        reject(error);
      } else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > options.limit) finish(tooLarge(options.limit));
      else chunks.push(chunk);
    };
    const onEnd = (): void => finish(null);
    const onError = (): void => finish(new HttpError(400, "ERR_BAD_REQUEST", "the request body could not be read"));
    const timer = setTimeout(
      () => finish(new HttpError(408, "ERR_BODY_TIMEOUT", `the request body did not arrive within ${options.timeoutMs} ms`, { headers: { connection: "close" } })),
      options.timeoutMs,
    );
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
  });
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, "ERR_BODY_TOO_LARGE", `the request body is larger than ${limit} bytes`, { headers: { connection: "close" } });
}

/**
 * Reads a JSON object body: 415 unless the content type is application/json, 400 for invalid
 * JSON or a non-object.
 *
 * @example
 * ```ts
 * const input = await readJsonObject(req, { limit: 65536, timeoutMs: 10_000 });
 * ```
 */
export async function readJsonObject(req: IncomingMessage, options: ReadBodyOptions): Promise<Record<string, unknown>> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") {
    // Drain so the connection stays usable for the next request.
    req.resume();
    throw new HttpError(415, "ERR_UNSUPPORTED_MEDIA_TYPE", "send the body as JSON with Content-Type: application/json");
  }
  const raw = await readBody(req, options);
  if (raw.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new HttpError(400, "ERR_INVALID_JSON", "the request body is not valid JSON");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new HttpError(400, "ERR_INVALID_JSON", "the request body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

/** Parses a Cookie header into name → value (first occurrence wins). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}
