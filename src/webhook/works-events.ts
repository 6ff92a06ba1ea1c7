/**
 * LINE WORKS bot callback events (the Bot API's callback: one event per request, no event ID),
 * typed the way LINE WORKS documents them, and checked before a handler is given one: a handler
 * registered with `bot.onWorks("message", …)` reads `event.content.type`, so an event without it
 * is logged as malformed, never thrown on inside the handler. Unknown types and extra fields pass.
 */

/** Where a LINE WORKS event came from: a user, and the talk room (`channelId`) when not 1:1. */
export interface WorksEventSource {
  userId?: string;
  /** The talk room (a "channel" in LINE WORKS' words), for group talks. */
  channelId?: string;
  domainId?: number | string;
  [field: string]: unknown;
}

/** Fields every LINE WORKS callback carries. */
export interface WorksEventBase {
  type: string;
  source: WorksEventSource;
  /** ISO 8601, e.g. "2022-01-04T05:16:05.716Z". */
  issuedTime?: string;
  [field: string]: unknown;
}

/** Message content; `text` typed, the rest (image, file, location, sticker, …) passed through. */
export type WorksMessageContent = { type: "text"; text: string; [field: string]: unknown } | { type: string; [field: string]: unknown };

/** A user wrote to the bot (1:1 or in a talk room). */
export interface WorksMessageEvent extends WorksEventBase {
  type: "message";
  source: WorksEventSource & { userId: string };
  content: WorksMessageContent;
}
/** A user pressed a postback button. */
export interface WorksPostbackEvent extends WorksEventBase {
  type: "postback";
  source: WorksEventSource & { userId: string };
  data: string;
}
/** The bot was invited to a talk room. */
export interface WorksJoinEvent extends WorksEventBase { type: "join"; source: WorksEventSource & { channelId: string } }
/** The bot left (or was removed from) a talk room. */
export interface WorksLeaveEvent extends WorksEventBase { type: "leave"; source: WorksEventSource & { channelId: string } }
/** Members joined a talk room the bot is in. */
export interface WorksJoinedEvent extends WorksEventBase { type: "joined"; source: WorksEventSource & { channelId: string }; members: string[] }
/** Members left a talk room the bot is in. */
export interface WorksLeftEvent extends WorksEventBase { type: "left"; source: WorksEventSource & { channelId: string }; members: string[] }

/** LINE WORKS event types kagiya types precisely, by their `type`. */
export interface WorksEventMap {
  message: WorksMessageEvent;
  postback: WorksPostbackEvent;
  join: WorksJoinEvent;
  leave: WorksLeaveEvent;
  joined: WorksJoinedEvent;
  left: WorksLeftEvent;
}

/** Any LINE WORKS callback event. */
export type WorksEvent = WorksEventMap[keyof WorksEventMap] | WorksEventBase;

type Check = (event: Record<string, unknown>, source: Record<string, unknown>) => string | null;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

const user: Check = (_e, source) => (typeof source["userId"] === "string" ? null : "has a source without a string userId");
const room: Check = (_e, source) => (typeof source["channelId"] === "string" ? null : "has a source without a string channelId");
const members: Check = (e, source) => room(e, source) ?? (Array.isArray(e["members"]) ? null : "has no members array");

const CHECKS: Readonly<Record<string, Check>> = {
  message: (e, source) => user(e, source) ?? (isObject(e["content"]) ? (typeof e["content"]["type"] === "string" ? null : "has a content without a string type") : "has no content object"),
  postback: (e, source) => user(e, source) ?? (typeof e["data"] === "string" ? null : "has no string data"),
  join: room,
  leave: room,
  joined: members,
  left: members,
};

/**
 * What is wrong with a LINE WORKS event for a typed handler, as a phrase, or null when usable.
 * Never throws and never quotes the event's content.
 *
 * @example
 * ```ts
 * worksEventProblem({ type: "message", source: { userId: "u1" }, content: { type: "text", text: "hi" } }); // null
 * worksEventProblem({ type: "message", source: { userId: "u1" } }); // "has no content object"
 * ```
 */
export function worksEventProblem(event: unknown): string | null {
  if (!isObject(event)) return "is not an object";
  const type = event["type"];
  if (typeof type !== "string") return "has no string type";
  const source = event["source"];
  if (!isObject(source)) return "has no source object";
  const check = Object.hasOwn(CHECKS, type) ? CHECKS[type] : undefined;
  return check === undefined ? null : check(event, source);
}
