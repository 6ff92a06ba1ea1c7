// kagiya's web-standard core and webhook handler, compiled as the package ships them, run unchanged
// on Deno, Bun and Cloudflare's workerd (through miniflare): a LINE assertion signed and verified,
// a signed delivery answered 200 and handled, a bad signature answered 401. The runtimes come from
// the npm registry (devDependencies). A missing one is skipped loudly; KAGIYA_REQUIRE_RUNTIMES
// (e.g. "deno,bun,workerd", set by .ci/run) turns that skip into a failure.
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { runProcess } from "../helpers/cli.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const HERE = fileURLToPath(new URL(".", import.meta.url));
const BIN = join(REPO, "node_modules/.bin");
const TSC = join(dirname(fileURLToPath(import.meta.resolve("typescript/package.json"))), "bin", "tsc");
const required = new Set((process.env["KAGIYA_REQUIRE_RUNTIMES"] ?? "").split(",").map((s) => s.trim()).filter(Boolean));

const dir = mkdtempSync(join(tmpdir(), "kagiya-runtimes-"));
after(() => rmSync(dir, { recursive: true, force: true }));

before(async () => {
  // The package's own build, into this test's folder: what a Deno, Bun or Workers user imports.
  const r = await runProcess(process.execPath, [TSC, "-p", join(REPO, "tsconfig.build.json"), "--outDir", join(dir, "dist")], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
  for (const f of ["probe.js", "run-probe.js", "worker.js"]) copyFileSync(join(HERE, f), join(dir, f));
}, { timeout: 180_000 });

/** Skips (loudly) when the runtime is not installed, unless KAGIYA_REQUIRE_RUNTIMES names it. */
function available(t: TestContext, name: string, why: string | undefined): boolean {
  if (why === undefined) return true;
  if (required.has(name)) assert.fail(`${name} is required (KAGIYA_REQUIRE_RUNTIMES) but ${why}`);
  process.stderr.write(`\n*** runtimes.test.ts: ${name} NOT TESTED: ${why} ***\n\n`);
  t.skip(`NOT TESTED: ${why}`);
  return false;
}

interface Report {
  backend: string;
  assertionValid: boolean;
  header: Record<string, unknown>;
  good: number;
  bad: number;
  received: string[];
}

function checkReport(report: Report): void {
  assert.equal(report.backend, "webcrypto");
  assert.equal(report.assertionValid, true);
  assert.deepEqual(report.header, { alg: "RS256", typ: "JWT", kid: "runtime-kid" });
  assert.equal(report.good, 200);
  assert.equal(report.bad, 401);
  assert.deepEqual(report.received, ["01GOODEVENT0000000000000000"]);
}

for (const [name, args] of [["deno", ["run", "--no-prompt", "run-probe.js"]], ["bun", ["run-probe.js"]]] as const) {
  test(`${name}: keys, a LINE assertion, and the webhook handler (200 signed, 401 forged)`, async (t) => {
    const bin = join(BIN, name);
    if (!available(t, name, existsSync(bin) ? undefined : `${bin} is not installed (npm install)`)) return;
    const r = await runProcess(bin, [...args], { cwd: dir, env: { PATH: process.env["PATH"] ?? "", HOME: dir, DENO_DIR: join(dir, ".deno"), NO_COLOR: "1" }, timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    checkReport(JSON.parse(r.stdout) as Report);
  });
}

test("workerd (miniflare): the same inside a Worker, and deliveries over the Worker's fetch", async (t) => {
  let Miniflare: typeof import("miniflare").Miniflare | undefined;
  let why: string | undefined;
  try {
    ({ Miniflare } = await import("miniflare"));
    if (!existsSync(join(BIN, "workerd"))) why = "the workerd binary is not installed";
  } catch (error) {
    why = `miniflare does not load: ${(error as Error).message.split("\n")[0]}`;
  }
  if (!available(t, "workerd", why)) return;
  const mf = new Miniflare!({
    modules: true,
    scriptPath: join(dir, "worker.js"),
    modulesRoot: dir,
    modulesRules: [{ type: "ESModule", include: ["**/*.js"] }],
    compatibilityDate: "2025-01-01",
  });
  try {
    const probed = await mf.dispatchFetch("http://worker/probe");
    const text = await probed.text();
    assert.equal(probed.status, 200, text);
    checkReport(JSON.parse(text) as Report);
    // The Worker's own handler, created at the module's top level as a Worker does.
    const { delivery, CHANNEL_ID, CHANNEL_SECRET } = (await import(join(dir, "probe.js"))) as {
      delivery(url: string, secret: string, eventId: string): Promise<Request>;
      CHANNEL_ID: string;
      CHANNEL_SECRET: string;
    };
    const send = async (secret: string, eventId: string): Promise<number> => {
      const request = await delivery(`http://worker/webhook/${CHANNEL_ID}`, secret, eventId);
      const response = await mf.dispatchFetch(request.url, { method: "POST", headers: Object.fromEntries(request.headers), body: await request.text() });
      await response.arrayBuffer();
      return response.status;
    };
    assert.equal(await send(CHANNEL_SECRET, "01WORKEREVENT00000000000000"), 200);
    assert.equal(await send("f".repeat(32), "01FORGEDEVENT00000000000000"), 401);
    // The event is handled after the 200, under ctx.waitUntil: ask until it shows (bounded).
    let received: unknown = [];
    for (let i = 0; i < 100 && Array.isArray(received) && received.length === 0; i++) {
      if (i > 0) await sleep(20);
      received = await (await mf.dispatchFetch("http://worker/received")).json();
    }
    assert.deepEqual(received, ["01WORKEREVENT00000000000000"]);
  } finally {
    await mf.dispose();
  }
});
