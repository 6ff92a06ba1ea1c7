// Every ```ts block of README.md and docs/*.md type-checks against the public entry points
// (`kagiya`, `kagiya/…` as package.json exports them, mapped onto src/), strict. What a snippet
// takes from its surroundings is declared in an HTML comment right above its fence, invisible on
// the page: <!-- ts-context: declare const userId: string; -->
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { entryPoints } from "../../scripts/api.ts";
import { runProcess } from "../helpers/cli.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const TSC = join(dirname(fileURLToPath(import.meta.resolve("typescript/package.json"))), "bin", "tsc");
// Inside the repository (.tmp/ is ignored), so that express, fastify and @line/bot-sdk resolve.
const dir = join(REPO, ".tmp", `docs-examples-${process.pid}`);
after(() => rmSync(dir, { recursive: true, force: true }));

interface Block {
  /** `docs/x.md:12`: where the code's first line is. */
  where: string;
  file: string;
  firstLine: number;
  context: string;
  code: string;
}

function blocks(): Block[] {
  const files = ["README.md", ...readdirSync(join(REPO, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)];
  const found: Block[] = [];
  for (const file of files) {
    const lines = readFileSync(join(REPO, file), "utf8").split("\n");
    for (let i = 0; i < lines.length; i++) {
      if (lines[i]!.trim() !== "```ts") continue;
      const end = lines.findIndex((l, j) => j > i && l.trim() === "```");
      assert.ok(end > i, `${file}:${i + 1}: unclosed code block`);
      // The context comment ends on the line right above the fence.
      let context = "";
      if (i > 0 && lines[i - 1]!.trimEnd().endsWith("-->")) {
        let start = i - 1;
        while (start > 0 && !lines[start]!.includes("<!-- ts-context:")) start--;
        const comment = lines.slice(start, i).join("\n");
        const m = /<!-- ts-context:([\s\S]*)-->/.exec(comment);
        if (m) context = m[1]!.trim();
      }
      found.push({ where: `${file}:${i + 2}`, file, firstLine: i + 2, context, code: lines.slice(i + 1, end).join("\n") });
      i = end;
    }
  }
  return found;
}

test("every TypeScript example in README.md and docs/ compiles against the public entry points", async () => {
  const all = blocks();
  assert.ok(all.length >= 10, `only ${all.length} ts blocks found`);
  mkdirSync(dir, { recursive: true });
  const paths: Record<string, string[]> = {};
  for (const [entry, source] of Object.entries(entryPoints())) paths[entry] = [source];
  const names: string[] = [];
  const origin = new Map<string, { block: Block; offset: number }>();
  all.forEach((block, n) => {
    const name = `example-${String(n).padStart(2, "0")}.ts`;
    const prefix = block.context === "" ? "" : `${block.context}\n`;
    // `export {}` makes every block a module (top-level await, no clashes between blocks).
    writeFileSync(join(dir, name), `${prefix}${block.code}\nexport {};\n`);
    names.push(name);
    origin.set(name, { block, offset: prefix.split("\n").length - 1 });
  });
  // A file with a known mistake: proves the run really checks these files.
  writeFileSync(join(dir, "canary.ts"), `import { createLineAssertion } from "kagiya";\nawait createLineAssertion(null, { channelId: 1 });\nexport {};\n`);
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
    extends: join(REPO, "tsconfig.json"),
    compilerOptions: { noEmit: true, noUnusedLocals: false, noUnusedParameters: false, lib: ["es2024", "dom"], paths, typeRoots: [join(REPO, "node_modules/@types")] },
    include: [],
    files: [...names, "canary.ts"],
  }));
  const r = await runProcess(process.execPath, [TSC, "-p", dir], { cwd: dir, timeoutMs: 180_000 });
  const errors = r.stdout.split("\n").filter((l) => / error TS\d+:/.test(l));
  assert.ok(errors.some((l) => l.startsWith("canary.ts(")), `the canary's error is missing:\n${r.stdout}${r.stderr}`);
  const wrong = errors.filter((l) => !l.startsWith("canary.ts(")).map((l) => {
    const m = /^(example-\d+\.ts)\((\d+),(\d+)\): (.*)$/.exec(l);
    const o = m ? origin.get(m[1]!) : undefined;
    if (!m || !o) return l;
    const line = Number(m[2]) - o.offset;
    return line < 1 ? `${o.block.where} (its ts-context): ${m[4]}` : `${o.block.file}:${o.block.firstLine + line - 1}: ${m[4]}`;
  });
  assert.deepEqual(wrong, [], `examples that do not compile:\n${wrong.join("\n")}`);
});
