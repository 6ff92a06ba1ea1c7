/**
 * kagiya's LINE WORKS client: the service-account token (JWT bearer grant), refresh, revoke and
 * bot messages, over `fetch`, with the LINE client's timeouts, retries, clock-skew correction and
 * typed errors. Create one per process and share it: it holds the measured clock offset.
 *
 * @example
 * ```ts
 * import { createWorksClient } from "kagiya/clients/works"; // the core parts (assertion, signature) are in "kagiya"
 * const works = createWorksClient(); // KAGIYA_WORKS_AUTH_BASE / KAGIYA_WORKS_API_BASE or LINE WORKS'
 * const t = await works.issueToken({ clientId, clientSecret, serviceAccount, privateKey, scope: "bot" });
 * await works.sendBotMessage(t.access_token, { botId, userId, content: { type: "text", text: "hi" } });
 * ```
 */
import type { ServerClock } from "../line/clock.ts";
import { sendWorksBotMessage, type WorksBotMessage } from "./bots.ts";
import { WorksHttp } from "./http.ts";
import { resolveWorksConfig, type ResolvedWorksConfig, type WorksClientOptions } from "./options.ts";
import {
  issueWorksToken,
  refreshWorksToken,
  revokeWorksToken,
  type WorksCallOptions,
  type WorksClientCredentials,
  type WorksServiceAccountCredentials,
  type WorksTokenResponse,
} from "./tokens.ts";

export * from "./bots.ts";
export * from "./errors.ts";
export { WorksHttp, worksRetryAfterMs, type BuiltWorksRequest, type WorksRequest, type WorksRetryPolicy } from "./http.ts";
export * from "./options.ts";
export * from "./port.ts";
export * from "./tokens.ts";

/** A LINE WORKS client: every call of this module bound to one configuration and one clock. */
export interface WorksClient {
  readonly config: ResolvedWorksConfig;
  readonly clock: ServerClock;
  readonly http: WorksHttp;
  issueToken(creds: WorksServiceAccountCredentials, options?: WorksCallOptions): Promise<WorksTokenResponse>;
  refreshToken(creds: WorksClientCredentials, refreshToken: string, options?: WorksCallOptions): Promise<WorksTokenResponse>;
  revokeToken(creds: WorksClientCredentials, token: string, options?: WorksCallOptions): Promise<void>;
  sendBotMessage(accessToken: string, message: WorksBotMessage, options?: WorksCallOptions): Promise<void>;
}

/**
 * Creates a LINE WORKS client. Options are validated once (unknown keys refused) and frozen.
 *
 * @example
 * ```ts
 * const works = createWorksClient({ authBaseUrl: emu.url, apiBaseUrl: emu.url, retry: { maxAttempts: 2 } });
 * ```
 */
export function createWorksClient(options: WorksClientOptions = {}): WorksClient {
  const http = new WorksHttp(resolveWorksConfig(options));
  return Object.freeze({
    config: http.config,
    clock: http.clock,
    http,
    issueToken: (creds, o) => issueWorksToken(http, creds, o),
    refreshToken: (creds, rt, o) => refreshWorksToken(http, creds, rt, o),
    revokeToken: (creds, t, o) => revokeWorksToken(http, creds, t, o),
    sendBotMessage: (token, m, o) => sendWorksBotMessage(http, token, m, o),
  } satisfies WorksClient);
}
