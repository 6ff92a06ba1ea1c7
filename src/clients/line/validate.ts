/**
 * Strict readers for LINE's response bodies: a result is either complete and well typed or an
 * ERR_LINE_BAD_RESPONSE naming the field. Problems are described by field and type only, never by
 * value (a 200 from the issue endpoint carries the access token). Also the checks of caller input
 * shared by the token and messaging calls (an InvalidInputError, never quoting the value).
 */
import { InvalidInputError } from "../../core/errors.ts";
import type { ParseContext } from "./http.ts";

/** What the readers need of a parse context: a way to refuse the body, naming the field. */
export type BadBody = Pick<ParseContext, "bad">;

/** A parsed JSON object body. */
export type JsonObject = Record<string, unknown>;

/**
 * Parses a body that must be one JSON object.
 *
 * @example
 * ```ts
 * const o = readObject(res.text, ctx); // throws ERR_LINE_BAD_RESPONSE for HTML, truncation, arrays
 * ```
 */
export function readObject(text: string, ctx: BadBody): JsonObject {
  if (text.trim() === "") ctx.bad("body", "is empty where a JSON object was expected");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    ctx.bad("body", text.trimStart().startsWith("<") ? "is HTML, not JSON" : "is not valid JSON (truncated or malformed)");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) ctx.bad("body", "is JSON but not an object");
  return json as JsonObject;
}

/** A required non-empty string field. */
export function requiredString(o: JsonObject, field: string, ctx: BadBody): string {
  const v = o[field];
  if (v === undefined) ctx.bad(field, "is missing");
  if (typeof v !== "string") ctx.bad(field, `is a ${typeOf(v)}, not a string`);
  if (v === "") ctx.bad(field, "is empty");
  return v;
}

/** An optional string field (absent stays absent). */
export function optionalString(o: JsonObject, field: string, ctx: BadBody): string | undefined {
  const v = o[field];
  if (v === undefined) return undefined;
  if (typeof v !== "string") ctx.bad(field, `is a ${typeOf(v)}, not a string`);
  return v;
}

/** A required integer count of seconds (a JSON number, not a numeric string), 0 or more. */
export function requiredSeconds(o: JsonObject, field: string, ctx: BadBody): number {
  const v = o[field];
  if (v === undefined) ctx.bad(field, "is missing");
  if (typeof v !== "number") ctx.bad(field, `is a ${typeOf(v)}, not a number`);
  if (!Number.isSafeInteger(v) || v < 0) ctx.bad(field, "is not a whole number of seconds");
  return v;
}

/** `token_type`, which LINE documents as exactly "Bearer". */
export function bearer(o: JsonObject, ctx: BadBody): "Bearer" {
  const v = requiredString(o, "token_type", ctx);
  if (v !== "Bearer") ctx.bad("token_type", "is not \"Bearer\"");
  return "Bearer";
}

/** A required array of non-empty strings. */
export function stringArray(o: JsonObject, field: string, ctx: BadBody): string[] {
  const v = o[field];
  if (v === undefined) ctx.bad(field, "is missing");
  if (!Array.isArray(v)) ctx.bad(field, `is a ${typeOf(v)}, not an array`);
  return v.map((item: unknown, i: number) => {
    if (typeof item !== "string" || item === "") ctx.bad(`${field}[${i}]`, "is not a non-empty string");
    return item;
  });
}

function typeOf(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

const CHANNEL_ID = /^[0-9]{1,20}$/;
/** @internal Header- and form-safe printable ASCII; fetch would otherwise refuse it with an error quoting the value. */
export const TOKEN_CHARS = /^[\x21-\x7e]{1,4096}$/;

/** @internal */
export function checkChannelId(channelId: unknown): void {
  if (typeof channelId !== "string" || !CHANNEL_ID.test(channelId)) {
    throw new InvalidInputError("The channel ID must be the channel's numeric ID as a string, e.g. \"1234567890\".", { field: "channelId" });
  }
}

/** @internal */
export function checkToken(accessToken: unknown, field = "accessToken"): void {
  if (typeof accessToken !== "string" || !TOKEN_CHARS.test(accessToken)) {
    throw new InvalidInputError(`The ${field} must be a non-empty string of printable ASCII characters (the value is not shown).`, { field });
  }
}
