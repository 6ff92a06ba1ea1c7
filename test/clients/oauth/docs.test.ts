import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { OAUTH_ERROR_CODES } from "../../../src/clients/oauth/index.ts";

test("docs/oauth.md lists every OAuth error code", () => {
  const doc = readFileSync(new URL("../../../docs/oauth.md", import.meta.url), "utf8");
  for (const code of OAUTH_ERROR_CODES) assert.ok(doc.includes(`\`${code}\``), `${code} is not documented`);
});
