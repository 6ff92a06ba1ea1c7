/**
 * The built-in credential kinds. Adding a kind is its folder plus one line here.
 *
 * @module
 */
import type { CredentialKind } from "../tokens/kind.ts";
import type { LineStatelessApi, LineTokenApi } from "../tokens/upstream.ts";
import { lineStatelessKind } from "./line-stateless/index.ts";
import { lineV21Kind } from "./line-v21/index.ts";

/** What the built-in kinds call: today LINE's token endpoints. */
export interface KindUpstreams {
  line: LineTokenApi & LineStatelessApi;
}

/** Every built-in kind, over the given upstreams. */
export function builtinKinds(up: KindUpstreams): CredentialKind[] {
  return [
    lineV21Kind(up.line),
    lineStatelessKind(up.line),
  ];
}

export { lineV21Kind } from "./line-v21/index.ts";
export { lineStatelessKind, STATELESS_LIFETIME_SECONDS, type StatelessAuth } from "./line-stateless/index.ts";
