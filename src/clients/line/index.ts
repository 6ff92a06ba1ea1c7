/**
 * kagiya's LINE client: the channel access token endpoints and Messaging API reply/push, over
 * `fetch`, with timeouts, retries, clock-skew correction and typed errors. Create one client per
 * process (or per LINE origin) and share it: it holds the measured clock offset.
 *
 * @example
 * ```ts
 * import { createLineClient } from "kagiya/clients/line";
 * const line = createLineClient(); // KAGIYA_LINE_API_BASE or https://api.line.me
 * const token = await line.issueChannelToken({ channelId, kid, privateKey });
 * await line.pushMessage(token.access_token, { to: userId, messages: [{ type: "text", text: "hi" }] });
 * ```
 */
import type { LineAssertionCredentials } from "./assertion.ts";
import type { ServerClock } from "./clock.ts";
import { LineHttp } from "./http.ts";
import {
  pushMessage,
  replyMessage,
  type PushMessageOptions,
  type PushMessageRequest,
  type PushMessageResult,
  type ReplyMessageRequest,
  type ReplyMessageResult,
} from "./messaging.ts";
import { resolveLineConfig, type LineClientOptions, type ResolvedLineConfig } from "./options.ts";
import { issueWithRecovery, type IssueWithRecoveryOptions, type IssueWithRecoveryResult } from "./recovery.ts";
import {
  issueChannelToken,
  issueShortLivedToken,
  issueStatelessToken,
  listValidKeyIds,
  revokeChannelToken,
  revokeShortLivedToken,
  verifyChannelToken,
  verifyShortLivedToken,
  type ChannelAccessTokenV21,
  type ChannelSecretCredentials,
  type IssueChannelTokenOptions,
  type LineCallOptions,
  type ShortLivedChannelAccessToken,
  type StatelessChannelAccessToken,
  type ValidKeyIds,
  type VerifiedChannelToken,
} from "./tokens.ts";

export type { LineAssertionCredentials } from "./assertion.ts";
export { ServerClock, parseRetryAfter } from "./clock.ts";
export * from "./errors.ts";
export { LineHttp, redactSecrets, type RetryPolicy } from "./http.ts";
export * from "./messaging.ts";
export { DEFAULT_LINE_API_BASE, LINE_CLIENT_DEFAULTS, resolveLineConfig, type LineAttemptInfo, type LineClientOptions, type LineRetryOptions, type ResolvedLineConfig } from "./options.ts";
export * from "./recovery.ts";
export * from "./tokens.ts";

/**
 * A LINE client: every function of this module bound to one configuration and one clock.
 * See each function's TSDoc for its retry behaviour.
 *
 * @example
 * ```ts
 * const line = createLineClient({ baseUrl: emulator.url });
 * const { kids } = await line.listValidKeyIds({ channelId, kid, privateKey });
 * ```
 */
export interface LineClient {
  /** The resolved, frozen options. */
  readonly config: ResolvedLineConfig;
  /** LINE's clock as measured from Date headers (`clock.serverNow()`, `clock.offsetMs`). */
  readonly clock: ServerClock;
  /** The transport, for callers that add endpoints of their own. */
  readonly http: LineHttp;
  issueChannelToken(creds: LineAssertionCredentials, options?: IssueChannelTokenOptions): Promise<ChannelAccessTokenV21>;
  issueWithRecovery(creds: LineAssertionCredentials, options?: IssueWithRecoveryOptions): Promise<IssueWithRecoveryResult>;
  listValidKeyIds(creds: LineAssertionCredentials, options?: LineCallOptions): Promise<ValidKeyIds>;
  revokeChannelToken(input: ChannelSecretCredentials & { accessToken: string }, options?: LineCallOptions): Promise<void>;
  verifyChannelToken(accessToken: string, options?: LineCallOptions): Promise<VerifiedChannelToken>;
  issueStatelessToken(creds: LineAssertionCredentials | ChannelSecretCredentials, options?: LineCallOptions): Promise<StatelessChannelAccessToken>;
  issueShortLivedToken(creds: ChannelSecretCredentials, options?: LineCallOptions): Promise<ShortLivedChannelAccessToken>;
  verifyShortLivedToken(accessToken: string, options?: LineCallOptions): Promise<VerifiedChannelToken>;
  revokeShortLivedToken(accessToken: string, options?: LineCallOptions): Promise<void>;
  replyMessage(accessToken: string, request: ReplyMessageRequest, options?: LineCallOptions): Promise<ReplyMessageResult>;
  pushMessage(accessToken: string, request: PushMessageRequest, options?: PushMessageOptions): Promise<PushMessageResult>;
}

/**
 * Creates a LINE client. Options are validated once (unknown keys refused) and frozen; defaults
 * are listed in {@link LINE_CLIENT_DEFAULTS}.
 *
 * @example
 * ```ts
 * const line = createLineClient({ baseUrl: "http://127.0.0.1:8787", timeoutMs: 5000, retry: { maxAttempts: 3 } });
 * const t = await line.issueChannelToken({ channelId: "1234567890", kid, privateKey });
 * ```
 */
export function createLineClient(options: LineClientOptions = {}): LineClient {
  const http = new LineHttp(resolveLineConfig(options));
  return Object.freeze({
    config: http.config,
    clock: http.clock,
    http,
    issueChannelToken: (creds, o) => issueChannelToken(http, creds, o),
    issueWithRecovery: (creds, o) => issueWithRecovery(http, creds, o),
    listValidKeyIds: (creds, o) => listValidKeyIds(http, creds, o),
    revokeChannelToken: (input, o) => revokeChannelToken(http, input, o),
    verifyChannelToken: (token, o) => verifyChannelToken(http, token, o),
    issueStatelessToken: (creds, o) => issueStatelessToken(http, creds, o),
    issueShortLivedToken: (creds, o) => issueShortLivedToken(http, creds, o),
    verifyShortLivedToken: (token, o) => verifyShortLivedToken(http, token, o),
    revokeShortLivedToken: (token, o) => revokeShortLivedToken(http, token, o),
    replyMessage: (token, req, o) => replyMessage(http, token, req, o),
    pushMessage: (token, req, o) => pushMessage(http, token, req, o),
  } satisfies LineClient);
}
