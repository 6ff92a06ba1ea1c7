/**
 * Lets the official `@line/bot-sdk` clients send with kagiya-managed tokens.
 *
 * The SDK's clients take a fixed `channelAccessToken` in their constructor and use the global
 * `fetch` with no hook for headers, so the least intrusive way in is from the outside: the caller
 * holds ONE client object (a Proxy with the SDK client's exact type); each method call asks the
 * {@link TokenSource} for the current token (a Map lookup when warm) and forwards to an SDK client
 * built for that token, built once per token (about once a week), never per call. When LINE answers
 * 401 the token is invalidated and the call is retried once with the next token.
 *
 * `@line/bot-sdk` is an optional peer: only this module imports it.
 *
 * @module
 */
import { HTTPFetchError, messagingApi } from "@line/bot-sdk";
import { resolveLineConfig } from "../clients/line/options.ts";
import type { TokenSource } from "../tokens/types.ts";

/** Options of {@link withManagedToken}. */
export interface ManagedClientOptions {
  /**
   * Decides whether an error means "LINE rejected the token". Default: an HTTPFetchError (or any
   * error with `status`) of 401.
   */
  isUnauthorized?: (error: unknown) => boolean;
}

function defaultIsUnauthorized(error: unknown): boolean {
  if (error instanceof HTTPFetchError) return error.status === 401;
  return typeof error === "object" && error !== null && (error as { status?: unknown }).status === 401;
}

/**
 * Wraps any bot-sdk client class built from a channel access token so that it always uses the
 * channel's current managed token, and retries a call once after a 401 (invalidating the token
 * first, so that many callers hitting the same 401 lead to one new token).
 *
 * @example
 * ```ts
 * import { messagingApi } from "@line/bot-sdk";
 * const blob = withManagedToken(manager, "1234567890", (token) => new messagingApi.MessagingApiBlobClient({ channelAccessToken: token }));
 * const content = await blob.getMessageContent(messageId);
 * ```
 */
export function withManagedToken<C extends object>(source: TokenSource, channelId: string, create: (accessToken: string) => C, options: ManagedClientOptions = {}): C {
  const isUnauthorized = options.isUnauthorized ?? defaultIsUnauthorized;
  let current: { token: string; client: C } | null = null;
  const clientFor = (accessToken: string): C => {
    if (current === null || current.token !== accessToken) current = { token: accessToken, client: create(accessToken) };
    return current.client;
  };
  // A template instance only for reading which properties are methods; never used to send.
  const template = create("kagiya-template-token");
  const methods = new Map<PropertyKey, (...args: unknown[]) => Promise<unknown>>();
  return new Proxy(template, {
    get(target, prop) {
      const member = Reflect.get(target, prop) as unknown;
      if (typeof member !== "function" || prop === "constructor") return member;
      let wrapped = methods.get(prop);
      if (wrapped === undefined) {
        wrapped = async (...args: unknown[]): Promise<unknown> => {
          const token = await source.get(channelId);
          const first = clientFor(token.accessToken);
          try {
            return await (Reflect.get(first, prop) as (...a: unknown[]) => Promise<unknown>).apply(first, args);
          } catch (error) {
            if (!isUnauthorized(error)) throw error;
            await source.invalidate(channelId, token.keyId);
            const next = await source.get(channelId);
            const client = clientFor(next.accessToken);
            return await (Reflect.get(client, prop) as (...a: unknown[]) => Promise<unknown>).apply(client, args);
          }
        };
        methods.set(prop, wrapped);
      }
      return wrapped;
    },
  });
}

/** Options of {@link createManagedMessagingApiClient}: the SDK client's, without the token. */
export interface ManagedMessagingApiClientOptions extends ManagedClientOptions {
  /**
   * LINE API origin. Default: the same as kagiya's token client, `KAGIYA_LINE_API_BASE`, else
   * https://api.line.me; so the token and the messages go to the same LINE (or emulator).
   */
  baseURL?: string;
  defaultHeaders?: Record<string, string>;
  /** Environment to read `KAGIYA_LINE_API_BASE` from (default process.env). */
  env?: Record<string, string | undefined>;
}

/**
 * A `messagingApi.MessagingApiClient` that sends with the channel's managed token. Create it once
 * and keep it: refreshes need no new client. It sends to the LINE base URL kagiya's token client
 * uses (`KAGIYA_LINE_API_BASE`, else https://api.line.me) unless `baseURL` says otherwise.
 *
 * @example
 * ```ts
 * import { createManagedMessagingApiClient } from "kagiya/adapters/bot-sdk";
 * const client = createManagedMessagingApiClient(manager, "1234567890");
 * await client.pushMessage({ to: userId, messages: [{ type: "text", text: "hello" }] });
 * ```
 */
export function createManagedMessagingApiClient(source: TokenSource, channelId: string, options: ManagedMessagingApiClientOptions = {}): messagingApi.MessagingApiClient {
  const { baseURL, defaultHeaders, env, ...rest } = options;
  // Resolved once, by the token client's own rules (and refused the same way when malformed).
  const base = baseURL ?? resolveLineConfig(env !== undefined ? { env } : {}).baseUrl;
  return withManagedToken(
    source,
    channelId,
    (channelAccessToken) => new messagingApi.MessagingApiClient({ channelAccessToken, baseURL: base, ...(defaultHeaders !== undefined ? { defaultHeaders } : {}) }),
    rest,
  );
}
