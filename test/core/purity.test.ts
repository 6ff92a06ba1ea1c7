import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const CORE = fileURLToPath(new URL("../../src/core/", import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? (e.name === "webhook" ? [] : files(dir + e.name + "/")) : e.name.endsWith(".ts") ? [dir + e.name] : []);
}

test("keys and jwt in src/core use Web standards only: no node:* imports, fs, net, Buffer or process", () => {
  const list = files(CORE);
  assert.ok(list.length >= 10);
  for (const file of list) {
    const code = readFileSync(file, "utf8").replace(/\/\*\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
    assert.doesNotMatch(code, /from\s+["'](node:|fs|net|http|path|crypto)/, file);
    assert.doesNotMatch(code, /\b(Buffer|process|require)\b/, file);
    assert.doesNotMatch(code, /from\s+["'](\.\.\/)+(node|cli|store|tokens|clients|server|emulator)\//, file);
  }
});
