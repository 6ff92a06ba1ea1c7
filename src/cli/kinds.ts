// The built-in credential kinds as the CLI checks input against them (policies, kind names)
// before anything is opened or written. Building them sends nothing.
import { worksTokenApi } from "../clients/works/port.ts";
import { builtinKinds } from "../kinds/index.ts";
import { KindRegistry } from "../tokens/kind.ts";
import { lineTokenApi } from "../tokens/line.ts";

/** The built-in kinds over clients configured from `env` (base URLs only). */
export function cliKinds(env: Record<string, string | undefined>): KindRegistry {
  return new KindRegistry(builtinKinds({ line: lineTokenApi({ env }), works: worksTokenApi({ env }) }));
}
