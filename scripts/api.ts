// The public surface of every entry point of package.json's exports map, as one JSON listing
// (api/exports.json) so that every change to the API shows up as a diff in review.
//   node scripts/api.ts           print the listing
//   node scripts/api.ts --write   regenerate api/exports.json (npm run api:update)
// Names are read from the TypeScript sources (values and types); test/package/api.test.ts checks
// the values against what importing each module really gives.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const LISTING = join(ROOT, "api/exports.json");

/** One entry point's exported names, each list sorted. */
export interface EntrySurface {
  values: string[];
  types: string[];
}

type Kind = "value" | "type";

/** Entry name (`kagiya`, `kagiya/core`, …) → its TypeScript source, from package.json's exports. */
export function entryPoints(): Record<string, string> {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { name: string; exports: Record<string, string | { default: string }> };
  const entries: Record<string, string> = {};
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (typeof target === "string") continue; // ./package.json
    const source = target.default.replace(/^\.\/dist\//, "src/").replace(/\.js$/, ".ts");
    entries[pkg.name + subpath.slice(1)] = join(ROOT, source);
  }
  return entries;
}

function stripComments(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

/** The names a module exports, following `export … from` into the files it names. */
function exportsOf(file: string, seen: Set<string> = new Set()): Map<string, { kind: Kind; from: string }> {
  const names = new Map<string, { kind: Kind; from: string }>();
  if (seen.has(file)) return names;
  seen.add(file);
  const code = stripComments(readFileSync(file, "utf8"));
  const add = (name: string, kind: Kind, from: string): void => {
    const known = names.get(name);
    if (known !== undefined && known.from !== from) throw new Error(`${name} is exported twice from ${file} (${known.from} and ${from})`);
    names.set(name, { kind, from });
  };
  const target = (spec: string): string => resolve(dirname(file), spec);
  for (const m of code.matchAll(/^export\s+(type\s+)?\{([^}]*)\}(?:\s*from\s*["']([^"']+)["'])?/gm)) {
    const from = m[3] === undefined ? file : target(m[3]);
    for (const raw of m[2]!.split(",")) {
      const item = raw.trim();
      if (item === "") continue;
      const parts = /^(type\s+)?([\w$]+)(?:\s+as\s+([\w$]+))?$/.exec(item);
      if (parts === null) throw new Error(`cannot read the export "${item}" in ${file}`);
      // With verbatimModuleSyntax a re-exported type must be marked `type`, so unmarked means value.
      const kind: Kind = m[1] !== undefined || parts[1] !== undefined ? "type" : "value";
      const origin = m[3] === undefined ? from : `${from}#${parts[2]}`;
      add(parts[3] ?? parts[2]!, kind, origin);
    }
  }
  for (const m of code.matchAll(/^export\s+\*\s+as\s+([\w$]+)\s+from\s*["']([^"']+)["']/gm)) add(m[1]!, "value", target(m[2]!));
  for (const m of code.matchAll(/^export\s+(type\s+)?\*\s+from\s*["']([^"']+)["']/gm)) {
    for (const [name, e] of exportsOf(target(m[2]!), seen)) if (name !== "default") add(name, m[1] !== undefined ? "type" : e.kind, e.from);
  }
  for (const m of code.matchAll(/^export\s+(?:declare\s+)?(?:abstract\s+)?(?:async\s+)?(?:function\*?|class|const|let|var)\s+([\w$]+)/gm)) add(m[1]!, "value", file);
  for (const m of code.matchAll(/^export\s+(?:declare\s+)?(?:interface|type)\s+([\w$]+)\s*[<={]/gm)) add(m[1]!, "type", file);
  if (/^export\s+default\b/m.test(code)) add("default", "value", file);
  seen.delete(file);
  return names;
}

/** Every entry point's surface, in the order of the exports map. */
export function surface(): Record<string, EntrySurface> {
  const listing: Record<string, EntrySurface> = {};
  for (const [entry, file] of Object.entries(entryPoints())) {
    const names = [...exportsOf(file)];
    listing[entry] = {
      values: names.filter(([, e]) => e.kind === "value").map(([n]) => n).sort(),
      types: names.filter(([, e]) => e.kind === "type").map(([n]) => n).sort(),
    };
  }
  return listing;
}

export function render(listing: Record<string, EntrySurface>): string {
  return JSON.stringify(listing, null, 2) + "\n";
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const text = render(surface());
  if (process.argv.includes("--write")) {
    writeFileSync(LISTING, text);
    for (const [entry, s] of Object.entries(surface())) process.stdout.write(`${entry.padEnd(24)} ${s.values.length} values, ${s.types.length} types\n`);
  } else {
    process.stdout.write(text);
  }
}
