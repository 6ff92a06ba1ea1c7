// Wire helpers: reading bodies strictly, and writing LINE-shaped responses.
import type { IncomingMessage, ServerResponse } from "node:http";

/** LINE refuses request bodies over 2 MB (413). */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;
/** Past this we stop draining an oversized body and drop the connection. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;

/** One request in flight. */
export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  path: string;
  query: string;
  requestId: string;
  /** Set by a truncate fault: the response is cut off halfway through its body. */
  truncate: boolean;
  /** The request body, read once ({@link readBody}); routes read it through this. */
  body: () => Promise<Buffer | "too-large">;
  /** The emulator clock (epoch ms): the Date header states it, so clients that correct for
   * server clock skew follow the emulated time. */
  now: () => number;
  /** The parsed form body, once read: a route that dispatches on a form field hands it on. */
  form?: Map<string, string>;
}

/** Writes a response (JSON when `body` is given, empty otherwise) with X-Line-Request-Id. */
export function send(ctx: Ctx, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  const { res } = ctx;
  if (res.headersSent || res.destroyed) return;
  const payload = body === undefined ? EMPTY : Buffer.from(JSON.stringify(body));
  const h: Record<string, string | number> = { date: new Date(ctx.now()).toUTCString(), "x-line-request-id": ctx.requestId, ...headers };
  if (body !== undefined) h["content-type"] = "application/json";
  if (ctx.truncate) {
    h["content-length"] = payload.length + 1;
    res.writeHead(status, h);
    res.write(payload.subarray(0, Math.floor(payload.length / 2)), () => res.socket?.destroy());
    return;
  }
  h["content-length"] = payload.length;
  res.writeHead(status, h);
  res.end(payload);
}
const EMPTY = Buffer.alloc(0);

/** OAuth-style error: `{"error", "error_description"}` (channel access token endpoints). */
export function oauthError(ctx: Ctx, status: number, error: string, description: string): void {
  send(ctx, status, { error, error_description: description });
}

/** Message-style error: `{"message", "details"?}` (Messaging API, v2.1 cap, unknown kid). */
export function messageError(ctx: Ctx, status: number, message: string, details?: Array<{ message: string; property: string }>, extra?: Record<string, unknown>, headers?: Record<string, string>): void {
  const body: Record<string, unknown> = { message };
  if (details && details.length > 0) body["details"] = details;
  send(ctx, status, { ...body, ...extra }, headers);
}

/** The request body, or "too-large" once it passes {@link MAX_BODY_BYTES}. */
export function readBody(req: IncomingMessage): Promise<Buffer | "too-large"> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        // Keep draining (so the client can read our 413) but stop buffering.
        over = true;
        chunks.length = 0;
        if (size > MAX_DRAIN_BYTES) req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(over ? "too-large" : Buffer.concat(chunks, size)));
    req.on("error", reject);
    req.on("close", () => { if (!req.complete) reject(new Error("request aborted")); });
  });
}

/** The media type of the request (lower case, without parameters), or "" when absent. */
export function mediaType(req: IncomingMessage): string {
  const ct = req.headers["content-type"];
  if (!ct) return "";
  const semi = ct.indexOf(";");
  return (semi === -1 ? ct : ct.slice(0, semi)).trim().toLowerCase();
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Decodes strictly: invalid UTF-8 is refused, never replaced. */
export function decodeUtf8(buf: Uint8Array): string | undefined {
  try {
    return utf8.decode(buf);
  } catch {
    return undefined;
  }
}

/**
 * Parses an application/x-www-form-urlencoded body strictly: malformed percent escapes, invalid
 * UTF-8 and repeated parameters (RFC 6749 §3.1: "MUST NOT be included more than once") are errors.
 */
export function parseFormStrict(text: string): { params: Map<string, string> } | { error: string } {
  const params = new Map<string, string>();
  if (text === "") return { params };
  for (const pair of text.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const rawName = eq === -1 ? pair : pair.slice(0, eq);
    const rawValue = eq === -1 ? "" : pair.slice(eq + 1);
    const name = formDecode(rawName);
    const value = formDecode(rawValue);
    if (name === undefined || value === undefined) return { error: "malformed parameters: bad percent-encoding or invalid UTF-8" };
    if (params.has(name)) return { error: `parameter ${name} is repeated` };
    params.set(name, value);
  }
  return { params };
}

function formDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    return undefined; // a lone %, a bad hex pair, or bytes that are not UTF-8
  }
}

/** Parses a query string with the same strictness as form bodies. */
export function parseQueryStrict(query: string): { params: Map<string, string> } | { error: string } {
  return parseFormStrict(query);
}

/**
 * The redirect of an authorization request (RFC 6749 §4.1.2): a function that sends the browser
 * back to `redirect_uri` with `params` and the request's `state`; or undefined after answering 400
 * when `redirect_uri` is not an http(s) URL (an untrusted redirect is shown, never followed).
 */
export function authorizationRedirect(ctx: Ctx, redirectUri: string | undefined, state: string | undefined): ((params: Record<string, string>) => void) | undefined {
  let target: URL;
  try {
    target = new URL(redirectUri ?? "");
    if (target.protocol !== "http:" && target.protocol !== "https:") throw new Error("scheme");
  } catch {
    oauthError(ctx, 400, "invalid_request", "redirect_uri is missing or not an http(s) URL");
    return undefined;
  }
  return (params) => {
    for (const [k, v] of Object.entries(params)) target.searchParams.set(k, v);
    if (state !== undefined) target.searchParams.set("state", state);
    send(ctx, 302, undefined, { location: target.href });
  };
}
