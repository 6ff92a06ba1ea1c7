/**
 * A renewed web login (the same user logging in again, so the same grant row `NAME.<id>`) ends the
 * grant it replaces: once the new grant is stored, the replaced refresh token is revoked at the
 * provider (RFC 7009, `token_type_hint=refresh_token`). A failure never fails the login: it is
 * logged (never with a token) and audited.
 *
 * RFC 7009 §2.1 lets a provider end the whole grant a token belongs to, and a provider may hand
 * out the same grant again (oidc-provider does while the browser keeps its session there). So the
 * replaced token is not revoked when the new ID token names the same provider session (`sid`), and
 * where the provider offers introspection the new refresh token is checked afterwards: if revoking
 * ended it too, the caller starts the login over once (the provider then makes a new grant).
 *
 * @module
 */
import { introspectToken, revokeToken, type TokenSet } from "../clients/oauth/index.ts";
import type { OAuthCallOptions } from "../clients/oauth/http.ts";
import type { ResolvedRegistration } from "../kinds/oauth2/registration.ts";
import type { ChannelRegistry } from "../store/registry.ts";
import type { ServerContext } from "./context.ts";

/** The grant a login replaces, read just before the new one is stored. */
export interface ReplacedGrant {
  refreshToken: string;
  /** The provider session its ID token named, if any. */
  sid: string | undefined;
}

/** What {@link revokeReplaced} did; `shared`: revoking ended the new grant too (start the login over). */
export type RenewalOutcome = "revoked" | "kept" | "failed" | "shared";

/** Each call to the provider here may take this long: a provider that hangs must not hold the login. */
const CALL_TIMEOUT_MS = 5000;

const codeOf = (error: unknown): string => {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : "ERR_INTERNAL";
};

/**
 * The active grant stored under `id`, or null (none, already ended, or unreadable: then nothing is
 * revoked and the login goes on).
 */
export async function replacedGrant(ctx: ServerContext, registry: ChannelRegistry, id: string): Promise<ReplacedGrant | null> {
  try {
    const state = await ctx.store.getGrant(id);
    if (state === null || state.status !== "active") return null;
    const secret = registry.openGrant(state);
    const sid = (secret["idTokenClaims"] as { sid?: unknown } | undefined)?.sid;
    return { refreshToken: secret.refreshToken, sid: typeof sid === "string" ? sid : undefined };
  } catch (error) {
    ctx.log.warn({ grant: id, code: codeOf(error) }, "could not read the grant a web login replaces; it is not revoked");
    return null;
  }
}

/**
 * Revokes the replaced refresh token after the new grant `next` was stored under `id`. Never throws.
 *
 * @example
 * ```ts
 * const previous = await replacedGrant(ctx, registry, id);
 * await storeLoginGrant(tokens, id, next);
 * if (previous && (await revokeReplaced(ctx, resolved, id, previous, next)) === "shared") restartLogin();
 * ```
 */
export async function revokeReplaced(ctx: ServerContext, resolved: ResolvedRegistration, id: string, previous: ReplacedGrant, next: TokenSet, options: OAuthCallOptions = {}): Promise<RenewalOutcome> {
  const { provider, client } = resolved;
  const audit = (action: string, detail: string): Promise<void> => ctx.audit({ action, actor: "oauth-web", channelId: id, keyId: null, detail });
  // The provider answered with the grant's own refresh token: nothing was replaced.
  if (previous.refreshToken === next.refreshToken) return "kept";
  const sid = next.idTokenClaims?.["sid"];
  if (previous.sid !== undefined && previous.sid === sid) {
    await audit("oauth.revoke", "replaced refresh token not revoked: the same provider session, which may hold the same grant");
    return "kept";
  }
  // LINE's endpoint takes access tokens, and revoking one there may end the user's authorization.
  if (provider.revocationEndpoint === undefined || provider.revocationStyle !== "rfc7009") {
    await audit("oauth.revoke", "replaced refresh token not revoked: the provider has no RFC 7009 revocation endpoint (it lapses there)");
    return "kept";
  }
  try {
    await revokeToken(provider, client, previous.refreshToken, "refresh_token", { ...options, now: ctx.now, signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
  } catch (error) {
    ctx.log.warn({ grant: id, code: codeOf(error) }, "could not revoke the refresh token a web login replaced");
    await audit("oauth.revoke_failed", `replaced refresh token not revoked: ${codeOf(error)}`);
    return "failed";
  }
  if (provider.introspectionEndpoint !== undefined && next.refreshToken !== undefined) {
    let active = true;
    try {
      active = await introspectToken(provider, client, next.refreshToken, "refresh_token", { ...options, now: ctx.now, signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
    } catch (error) {
      ctx.log.warn({ grant: id, code: codeOf(error) }, "could not check the new grant after revoking the replaced one");
    }
    if (!active) {
      ctx.log.warn({ grant: id }, "revoking the replaced refresh token ended the new grant too (the provider reused its grant): login started over");
      await audit("oauth.revoke", "replaced refresh token revoked; the provider ended the new grant with it (the same grant): login started over");
      return "shared";
    }
  }
  await audit("oauth.revoke", "replaced refresh token revoked at the provider");
  return "revoked";
}
