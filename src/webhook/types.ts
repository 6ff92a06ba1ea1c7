/**
 * Webhook event types: a practical subset of LINE's webhook.yml. LINE adds event types and
 * fields without notice, so every object keeps an index signature and unknown event types
 * arrive as {@link UnknownEvent}.
 */

/** Where an event came from. */
export type EventSource =
  | { type: "user"; userId: string; [field: string]: unknown }
  | { type: "group"; groupId: string; userId?: string; [field: string]: unknown }
  | { type: "room"; roomId: string; userId?: string; [field: string]: unknown };

/** Fields every event carries. */
export interface EventBase {
  type: string;
  /** "standby": another module holds the chat; the bot must not reply. */
  mode: "active" | "standby";
  /** Epoch milliseconds. */
  timestamp: number;
  source?: EventSource;
  /** ULID; the de-duplication key. */
  webhookEventId: string;
  deliveryContext: { isRedelivery: boolean; [field: string]: unknown };
  [field: string]: unknown;
}

export interface TextMessageContent {
  type: "text";
  id: string;
  text: string;
  quoteToken?: string;
  emojis?: Array<{ index: number; length: number; productId: string; emojiId: string }>;
  mention?: { mentionees: Array<{ type: string; index: number; length: number; userId?: string; isSelf?: boolean }> };
  quotedMessageId?: string;
  [field: string]: unknown;
}

export interface StickerMessageContent {
  type: "sticker";
  id: string;
  packageId: string;
  stickerId: string;
  [field: string]: unknown;
}

export interface LocationMessageContent {
  type: "location";
  id: string;
  title?: string;
  address?: string;
  latitude: number;
  longitude: number;
  [field: string]: unknown;
}

export interface MediaMessageContent {
  type: "image" | "video" | "audio" | "file";
  id: string;
  [field: string]: unknown;
}

/** Any message content; narrow on `message.type`. */
export type MessageContent = TextMessageContent | StickerMessageContent | LocationMessageContent | MediaMessageContent;

export interface MessageEvent extends EventBase {
  type: "message";
  replyToken?: string;
  message: MessageContent;
}
export interface FollowEvent extends EventBase {
  type: "follow";
  replyToken: string;
  follow?: { isUnblocked: boolean };
}
export interface UnfollowEvent extends EventBase { type: "unfollow" }
export interface JoinEvent extends EventBase { type: "join"; replyToken: string }
export interface LeaveEvent extends EventBase { type: "leave" }
export interface MemberJoinedEvent extends EventBase {
  type: "memberJoined";
  replyToken: string;
  joined: { members: EventSource[] };
}
export interface MemberLeftEvent extends EventBase { type: "memberLeft"; left: { members: EventSource[] } }
export interface PostbackEvent extends EventBase {
  type: "postback";
  replyToken?: string;
  postback: { data: string; params?: Record<string, string> };
}
export interface UnsendEvent extends EventBase { type: "unsend"; unsend: { messageId: string } }
export interface VideoPlayCompleteEvent extends EventBase {
  type: "videoPlayComplete";
  replyToken: string;
  videoPlayComplete: { trackingId: string };
}
export interface BeaconEvent extends EventBase {
  type: "beacon";
  replyToken: string;
  beacon: { hwid: string; type: "enter" | "banner" | "stay"; dm?: string };
}
export interface AccountLinkEvent extends EventBase {
  type: "accountLink";
  replyToken?: string;
  link: { result: "ok" | "failed"; nonce: string };
}

/** Event types kagiya types precisely, by their `type`. */
export interface WebhookEventMap {
  message: MessageEvent;
  follow: FollowEvent;
  unfollow: UnfollowEvent;
  join: JoinEvent;
  leave: LeaveEvent;
  memberJoined: MemberJoinedEvent;
  memberLeft: MemberLeftEvent;
  postback: PostbackEvent;
  unsend: UnsendEvent;
  videoPlayComplete: VideoPlayCompleteEvent;
  beacon: BeaconEvent;
  accountLink: AccountLinkEvent;
}

/** Any other event type (membership, module, activated, delivery, and ones LINE adds later). */
export type UnknownEvent = EventBase;

/** Any webhook event. */
export type WebhookEvent = WebhookEventMap[keyof WebhookEventMap] | UnknownEvent;

/** The request body LINE posts. */
export interface WebhookBody {
  /** The bot's user ID (`U` + 32 hex). */
  destination: string;
  events: WebhookEvent[];
  [field: string]: unknown;
}

/** A message object for reply and push (LINE's shapes; `text` typed, the rest passed through). */
export type Message = { type: "text"; text: string; [field: string]: unknown } | { type: string; [field: string]: unknown };

/** A pino-compatible logger; `(fields, message)`. Never given a token, secret or signature. */
export interface Logger {
  debug?(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}
