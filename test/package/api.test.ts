// The public API is a deliberate, reviewed surface: api/exports.json lists every entry point's
// names, and this test fails when the sources export anything else (regenerate the listing with
// `npm run api:update` and let the diff be reviewed).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { test } from "node:test";
import { entryPoints, LISTING, render, surface } from "../../scripts/api.ts";
import { runProcess } from "../helpers/cli.ts";

test("every entry point exports exactly the names api/exports.json lists (npm run api:update)", () => {
  assert.equal(render(surface()), readFileSync(LISTING, "utf8"), "the public API changed: run npm run api:update and review the diff");
});

test("the listing's values are what importing each entry point really gives", async () => {
  const listing = surface();
  for (const [entry, file] of Object.entries(entryPoints())) {
    assert.deepEqual(Object.keys(await import(file)).sort(), listing[entry]!.values, entry);
  }
});

test("the root entry is small on purpose, shares no internals, changes nothing global, and loads no store driver, logger or metrics client", async () => {
  const root = surface()["kagiya"]!;
  assert.ok(root.values.length <= 60, `${root.values.length} values in the root entry`);
  for (const internal of ["LineHttp", "classifyFailure", "MASTER_CHECK_META", "preferRsaBackend", "SqliteStore", "startBroker"]) {
    assert.ok(!root.values.includes(internal), internal);
  }
  // In a fresh process: this one has loaded every module already.
  const script = `import { registerHooks } from "node:module";
    const loaded = [];
    registerHooks({ resolve: (s, c, next) => { const r = next(s, c); loaded.push(r.url); return r; } });
    await import(${JSON.stringify(pathToFileURL(entryPoints()["kagiya"]!).href)});
    const { defaultRsaBackend } = await import(${JSON.stringify(pathToFileURL(entryPoints()["kagiya/core"]!).href)});
    console.log(JSON.stringify({ loaded, backend: defaultRsaBackend().name }));`;
  const r = await runProcess(process.execPath, ["--input-type=module", "-e", script]);
  assert.equal(r.code, 0, r.stderr);
  const { loaded, backend } = JSON.parse(r.stdout) as { loaded: string[]; backend: string };
  // No side effect: importing kagiya leaves the process-wide RSA backend as it was.
  assert.equal(backend, "webcrypto");
  assert.ok(loaded.some((u) => u.endsWith("/src/store/open.ts")) && loaded.some((u) => u === "node:crypto"), "the hook saw the import's graph");
  assert.deepEqual(loaded.filter((u) => /node:sqlite|\/node_modules\/(pino|prom-client|ioredis|pg|@line\/bot-sdk)\//.test(u)), []);
});
