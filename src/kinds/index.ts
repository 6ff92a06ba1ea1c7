/**
 * The built-in credential kinds. Adding a kind is its folder plus one line here.
 *
 * @module
 */
import { InvalidInputError } from "../core/errors.ts";
import type { CredentialKind } from "../tokens/kind.ts";
import type { LineStatelessApi, LineTokenApi } from "../tokens/upstream.ts";
import type { WorksTokenApi } from "../clients/works/port.ts";
import { lineStatelessKind } from "./line-stateless/index.ts";
import { lineV21Kind } from "./line-v21/index.ts";
import { lineWorksKind } from "./line-works/index.ts";
import { oauth2Kind, type OAuth2KindOptions } from "./oauth2/index.ts";

/** What the built-in kinds call: LINE's token endpoints and LINE WORKS' auth server. */
export interface KindUpstreams {
  line: LineTokenApi & LineStatelessApi;
  works: WorksTokenApi;
  /** What `oauth2` grants need (a registration lookup); absent: such grants are refused as unresolvable. */
  oauth?: OAuth2KindOptions;
}

const NO_OAUTH_LOOKUP: OAuth2KindOptions = {
  lookup: (id) => Promise.reject(new InvalidInputError(`OAuth provider ${id} cannot be looked up here`, { field: "provider" })),
};

/** Every built-in kind, over the given upstreams. */
export function builtinKinds(up: KindUpstreams): CredentialKind[] {
  return [
    lineV21Kind(up.line),
    lineStatelessKind(up.line),
    lineWorksKind(up.works),
    oauth2Kind(up.oauth ?? NO_OAUTH_LOOKUP),
  ];
}

export { lineV21Kind } from "./line-v21/index.ts";
export { lineStatelessKind, STATELESS_LIFETIME_SECONDS, type StatelessAuth } from "./line-stateless/index.ts";
export { checkWorksRefreshPolicy, lineWorksKind, worksAppOf, LINE_WORKS_KIND, WORKS_REFRESH_POLICIES, WORKS_TOKEN_LIFETIME_SECONDS, type WorksRefreshPolicy } from "./line-works/index.ts";
export { oauth2Kind, oauthGrantSecret, resolveOAuthPolicy, OAUTH2_KIND, OAUTH_KEY_PREFIX, type OAuth2KindOptions } from "./oauth2/index.ts";
