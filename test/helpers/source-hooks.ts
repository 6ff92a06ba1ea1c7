// `node --import ./test/helpers/source-hooks.ts script.ts`: `kagiya` and `kagiya/...` resolve to the
// TypeScript sources, as the exports map says they do in the built package (the repository has no
// dist/ until a build). For scripts that use kagiya as a user writes it, run inside the repository.
import { registerHooks } from "node:module";
import { readFileSync } from "node:fs";

const root = new URL("../../", import.meta.url);
const { exports } = JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as { exports: Record<string, string | { default: string }> };

registerHooks({
  resolve(specifier, context, next) {
    if (specifier === "kagiya" || specifier.startsWith("kagiya/")) {
      const entry = exports[specifier === "kagiya" ? "." : `./${specifier.slice("kagiya/".length)}`];
      if (entry !== undefined && typeof entry === "object") {
        const source = entry.default.replace("./dist/", "./src/").replace(/\.js$/, ".ts");
        return { url: new URL(source, root).href, shortCircuit: true };
      }
    }
    return next(specifier, context);
  },
});
