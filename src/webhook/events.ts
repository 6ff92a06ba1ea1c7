/**
 * Checks that an event has the members its type promises before a bot handler is given it: a
 * handler registered with `bot.on("message", …)` is typed to read `event.message.type`, so a
 * signed event that lacks it must be refused here, logged as malformed, not thrown on inside the
 * handler. Only the members kagiya's types declare as required are checked; unknown types and
 * extra fields pass through (LINE adds both without notice).
 */

type Check = (event: Record<string, unknown>) => string | null;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** A required object member whose listed fields are strings. */
function objectWith(member: string, strings: readonly string[]): Check {
  return (event) => {
    const v = event[member];
    if (v === undefined) return `has no ${member}`;
    if (!isObject(v)) return `has a ${member} that is not an object`;
    for (const s of strings) if (typeof v[s] !== "string") return `has a ${member} without a string ${s}`;
    return null;
  };
}

/** A required object member holding a `members` array. */
function membersIn(member: string): Check {
  return (event) => {
    const v = event[member];
    if (!isObject(v)) return v === undefined ? `has no ${member}` : `has a ${member} that is not an object`;
    return Array.isArray(v["members"]) ? null : `has a ${member} without a members array`;
  };
}

// The required members of ./types.ts's WebhookEventMap, by event type.
const CHECKS: Readonly<Record<string, Check>> = {
  message: objectWith("message", ["type"]),
  postback: objectWith("postback", ["data"]),
  unsend: objectWith("unsend", ["messageId"]),
  memberJoined: membersIn("joined"),
  memberLeft: membersIn("left"),
  videoPlayComplete: objectWith("videoPlayComplete", ["trackingId"]),
  beacon: objectWith("beacon", ["hwid", "type"]),
  accountLink: objectWith("link", ["result"]),
};

/**
 * What is wrong with an event for a typed handler, as a phrase (`has no message`), or null when
 * it is usable. Never throws, whatever it is given; never quotes the event's content.
 *
 * @example
 * ```ts
 * eventProblem({ type: "message", message: { type: "text", id: "1", text: "hi" } }); // null
 * eventProblem({ type: "message" }); // "has no message"
 * ```
 */
export function eventProblem(event: unknown): string | null {
  if (!isObject(event)) return "is not an object";
  const type = event["type"];
  if (typeof type !== "string") return "has no string type";
  if (event["source"] !== undefined && !isObject(event["source"])) return "has a source that is not an object";
  const check = Object.hasOwn(CHECKS, type) ? CHECKS[type] : undefined;
  return check === undefined ? null : check(event);
}
