/**
 * The upstreams of the built-in kinds, built from a TokenManager's options: the port given, else
 * kagiya's own client; each call that issues goes through the issuance permit when one is set.
 */
import { worksTokenApi, type WorksTokenApi } from "../clients/works/port.ts";
import { lineTokenApi } from "./line.ts";
import type { TokenManagerOptions } from "./options.ts";
import { linePermitted, worksPermitted } from "./permits.ts";
import type { LineStatelessApi, LineTokenApi } from "./upstream.ts";

/** The LINE endpoints for the built-in kinds: the given v2.1 API, with the stateless call from kagiya's client when it lacks one. */
export function lineUpstream(o: TokenManagerOptions, now: () => number): LineTokenApi & LineStatelessApi {
  const own = (): LineTokenApi & LineStatelessApi => lineTokenApi({ ...(o.lineApiBase !== undefined ? { baseUrl: o.lineApiBase } : {}), now });
  const permitted = (api: LineTokenApi & LineStatelessApi) => (o.issuePermit ? linePermitted(api, o.issuePermit) : api);
  if (o.line === undefined) return permitted(own());
  if ("issueStateless" in o.line) return permitted(o.line as LineTokenApi & LineStatelessApi);
  const given = o.line;
  let stateless: LineStatelessApi | undefined;
  return permitted({ ...given, issueStateless: (ch, by) => (stateless ??= own()).issueStateless(ch, by) });
}

/**
 * LINE WORKS' auth server for the `line-works` kind: the given port, else kagiya's client, built on
 * first use (so a malformed KAGIYA_WORKS_AUTH_BASE troubles only those who have a LINE WORKS app).
 */
export function worksUpstream(o: TokenManagerOptions, now: () => number): WorksTokenApi {
  const permitted = (api: WorksTokenApi) => (o.issuePermit ? worksPermitted(api, o.issuePermit) : api);
  if (o.works !== undefined) return permitted(o.works);
  let own: WorksTokenApi | undefined;
  const api = (): WorksTokenApi => (own ??= worksTokenApi({ ...(o.worksAuthBase !== undefined ? { authBaseUrl: o.worksAuthBase } : {}), now }));
  return permitted({ issue: (app) => api().issue(app), refresh: (app, rt) => api().refresh(app, rt), revoke: (app, t) => api().revoke(app, t) });
}
