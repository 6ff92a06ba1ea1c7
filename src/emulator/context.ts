// What every route handler is given, and the shared body-reading steps that answer errors themselves.
import type { Faults } from "./faults.ts";
import { decodeUtf8, mediaType, messageError, oauthError, parseFormStrict, type Ctx } from "./http.ts";
import type { EmulatorState } from "./state.ts";

/** The running emulator's parts, shared by all routes. */
export interface Emulator {
  state: EmulatorState;
  faults: Faults;
}

/** A route handler. */
export type Handler = (ctx: Ctx, em: Emulator) => void | Promise<void>;

/**
 * Reads a form body for a channel access token endpoint; on any problem answers with an
 * OAuth-style error and returns undefined.
 */
export async function readForm(ctx: Ctx): Promise<Map<string, string> | undefined> {
  if (ctx.form) return ctx.form;
  const body = await ctx.body();
  if (body === "too-large") {
    oauthError(ctx, 413, "invalid_request", "The request body exceeds 2 MB");
    return undefined;
  }
  if (mediaType(ctx.req) !== "application/x-www-form-urlencoded") {
    oauthError(ctx, 400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded");
    return undefined;
  }
  const text = decodeUtf8(body);
  if (text === undefined) {
    oauthError(ctx, 400, "invalid_request", "The request body is not valid UTF-8");
    return undefined;
  }
  const parsed = parseFormStrict(text);
  if ("error" in parsed) {
    oauthError(ctx, 400, "invalid_request", parsed.error);
    return undefined;
  }
  ctx.form = parsed.params;
  return parsed.params;
}

/** Reads the query string strictly; answers an OAuth-style 400 on a malformed one. */
export function readQuery(ctx: Ctx): Map<string, string> | undefined {
  const parsed = parseFormStrict(ctx.query);
  if ("error" in parsed) {
    oauthError(ctx, 400, "invalid_request", parsed.error);
    return undefined;
  }
  return parsed.params;
}

/** Reads a JSON object body; errors are answered in the Messaging API's `{message}` shape. */
export async function readJson(ctx: Ctx, options: { allowEmpty?: boolean; anyContentType?: boolean } = {}): Promise<Record<string, unknown> | undefined> {
  const body = await ctx.body();
  if (body === "too-large") {
    messageError(ctx, 413, "The request body exceeds 2 MB");
    return undefined;
  }
  if (body.length === 0 && options.allowEmpty) return {};
  const mt = mediaType(ctx.req);
  if (mt !== "application/json" && !options.anyContentType) {
    // LINE's documents do not say which status a wrong media type gets; the emulator answers
    // HTTP's own 415 in the Messaging API's error shape.
    messageError(ctx, 415, "Content-Type must be application/json");
    return undefined;
  }
  const text = decodeUtf8(body);
  if (text === undefined) {
    messageError(ctx, 400, "The request body is not valid UTF-8");
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    messageError(ctx, 400, "The request body has 1 error(s)", [{ message: "Invalid JSON", property: "" }]);
    return undefined;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    messageError(ctx, 400, "The request body has 1 error(s)", [{ message: "Must be a JSON object", property: "" }]);
    return undefined;
  }
  return value as Record<string, unknown>;
}
