import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { SERVER_ERROR_CODES } from "../../src/server/errors.ts";

test("docs/server.md lists every error code the server answers with", () => {
  const doc = readFileSync(new URL("../../docs/server.md", import.meta.url), "utf8");
  for (const code of SERVER_ERROR_CODES) assert.ok(doc.includes(`\`${code}\``), `${code} is not documented`);
});
