/**
 * One send with a managed token, for both platforms' bots: when the platform says the token is
 * dead, it is invalidated (the next get() mints or issues a new one, at most once across
 * processes) and the send is tried once more. A second refusal is a BotSendError.
 */
import type { TokenSource } from "../tokens/types.ts";
import { BotSendError } from "./errors.ts";
import type { Logger } from "./types.ts";

/** What {@link withTokenRetry} needs. */
export interface TokenRetry<T> {
  tokens: TokenSource;
  /** The channel or credential ID the token is for. */
  id: string;
  /** For logs: "reply", "push", "bot message". */
  endpoint: string;
  logger: Logger;
  /** Whether an error says the access token is dead. */
  isUnauthorized(err: unknown): boolean;
  /** How the platform said so, for the log line and the error (no secret). */
  refused: string;
  call(accessToken: string): Promise<T>;
}

/**
 * Runs `call` with the credential's token; on a dead-token answer invalidates it and tries once more.
 *
 * @example
 * ```ts
 * await withTokenRetry({ tokens, id: "works-billing", endpoint: "bot message", logger, isUnauthorized, refused: "401", call: (t) => send(t) });
 * ```
 */
export async function withTokenRetry<T>(r: TokenRetry<T>): Promise<T> {
  const first = await r.tokens.get(r.id);
  try {
    return await r.call(first.accessToken);
  } catch (err) {
    if (!r.isUnauthorized(err)) throw err;
    r.logger.warn({ channelId: r.id, keyId: first.keyId, endpoint: r.endpoint }, `${r.refused}; invalidating it and retrying once`);
    await r.tokens.invalidate(r.id, first.keyId);
    const second = await r.tokens.get(r.id);
    try {
      return await r.call(second.accessToken);
    } catch (again) {
      if (r.isUnauthorized(again)) {
        throw new BotSendError(`${r.refused} for ${r.id} on ${r.endpoint}, twice (a fresh token too); check the credential's registration.`, 401, { cause: again });
      }
      throw again;
    }
  }
}
