/**
 * Issuance permits: a hook awaited right before each token request a built-in kind sends, named
 * by the upstream it goes to, so a rate limit (the server's `--max-issue-rate`) can be held per
 * upstream as that upstream counts requests. Revocations and listings are not issuances and pass
 * straight through.
 *
 * @module
 */
import type { WorksTokenApi } from "../clients/works/port.ts";
import type { LineStatelessApi, LineTokenApi } from "./upstream.ts";

/**
 * Awaited right before a token request is sent to `upstream`; what it throws ends the issuance
 * with nothing sent (a kagiya error with `ambiguous: false` keeps it a clean failure).
 */
export type IssuePermit = (upstream: string) => Promise<void>;

/** LINE's channel token API (v2.1 and stateless issuances). */
export const LINE_UPSTREAM = "line";
/** LINE WORKS' auth server (service-account tokens, by assertion or refresh token). */
export const WORKS_UPSTREAM = "line-works";

/** An OAuth provider, named by its token endpoint's origin: `oauth:https://auth.example.com`. */
export function oauthUpstream(tokenEndpoint: string): string {
  let origin: string;
  try {
    origin = new URL(tokenEndpoint).origin;
  } catch {
    origin = tokenEndpoint;
  }
  return `oauth:${origin}`;
}

/** LINE's token endpoints with a permit of {@link LINE_UPSTREAM} taken right before each issuance. */
export function linePermitted(api: LineTokenApi & LineStatelessApi, permit: IssuePermit): LineTokenApi & LineStatelessApi {
  return {
    issue: async (channel, lifetimeSeconds) => {
      await permit(LINE_UPSTREAM);
      return api.issue(channel, lifetimeSeconds);
    },
    issueStateless: async (channel, by) => {
      await permit(LINE_UPSTREAM);
      return api.issueStateless(channel, by);
    },
    revoke: (channel, accessToken) => api.revoke(channel, accessToken),
    validKeyIds: (channel) => api.validKeyIds(channel),
  };
}

/** LINE WORKS' token calls with a permit of {@link WORKS_UPSTREAM} taken right before each issue or refresh. */
export function worksPermitted(api: WorksTokenApi, permit: IssuePermit): WorksTokenApi {
  return {
    issue: async (app) => {
      await permit(WORKS_UPSTREAM);
      return api.issue(app);
    },
    refresh: async (app, refreshToken) => {
      await permit(WORKS_UPSTREAM);
      return api.refresh(app, refreshToken);
    },
    revoke: (app, token) => api.revoke(app, token),
  };
}
