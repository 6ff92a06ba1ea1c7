// The module as a whole: its documentation lists every error code, and it runs on Web standards
// only (fetch, WebCrypto, jose), so it works on Node, Deno, Bun and Workers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { OAUTH_ERROR_CODES } from "../../../src/clients/oauth/index.ts";

const DIR = new URL("../../../src/clients/oauth/", import.meta.url);

test("docs/oauth.md lists every OAuth error code", () => {
  const doc = readFileSync(new URL("../../../docs/oauth.md", import.meta.url), "utf8");
  for (const code of OAUTH_ERROR_CODES) assert.ok(doc.includes(`\`${code}\``), `${code} is not documented`);
});

test("src/clients/oauth imports no node:* module and uses no Buffer or process", () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith(".ts"));
  assert.ok(files.length >= 9);
  for (const f of files) {
    const code = readFileSync(new URL(f, DIR), "utf8").replace(/\/\*\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
    assert.doesNotMatch(code, /from\s+["'](node:|fs|net|http|path|crypto)/, f);
    assert.doesNotMatch(code, /\b(Buffer|process|require)\b/, f);
    assert.doesNotMatch(code, /from\s+["'](\.\.\/)+(node|cli|store|tokens|server|emulator)\//, f);
  }
});
