import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { HelpRequested, flagKind, type FlagSpec } from "../../src/cli/args.ts";
import { ENVIRONMENT, EXIT_CODES, envOf } from "../../src/cli/help.ts";
import type { CliIO } from "../../src/cli/io.ts";
import { groups, main } from "../../src/cli/main.ts";
import { runCli } from "../helpers/cli.ts";

/** Runs the CLI in-process (help never opens a store or a port) and captures its output. */
async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io: CliIO = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), readStdin: async () => "", env: {}, cwd: process.cwd() };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

/** Every command of every group, with the flag spec its parser enforces (asked for with --help). */
async function allCommands() {
  const out = [];
  for (const [group, { load }] of Object.entries(groups)) {
    const module = await load();
    for (const [sub, command] of Object.entries(module.commands)) {
      const io: CliIO = { stdout: () => {}, stderr: () => {}, readStdin: async () => "", env: {}, cwd: process.cwd() };
      let spec: FlagSpec | undefined;
      try {
        await command(["--help"], io);
      } catch (error) {
        if (error instanceof HelpRequested) spec = error.spec;
        else throw error;
      }
      assert.ok(spec, `kagiya ${group} ${sub}: its parser did not answer --help`);
      out.push({ group, sub, path: sub === "" ? group : `${group} ${sub}`, spec, help: module.help?.[sub] });
    }
  }
  return out;
}

const commands = await allCommands();

test("the walk covers every command: every group, 24 commands or more", () => {
  assert.equal(new Set(commands.map((c) => c.group)).size, Object.keys(groups).length);
  assert.ok(commands.length >= 24, `only ${commands.length} commands`);
});

for (const c of commands) {
  test(`kagiya ${c.path} --help lists every flag its parser accepts, the environment, exit codes and an example`, async () => {
    assert.ok(c.help, `kagiya ${c.path} has no help entry in its module's help export`);
    const r = await run([...c.path.split(" "), "--help"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.ok(r.stdout.startsWith(`usage: kagiya ${c.path}`), r.stdout);
    assert.ok(r.stdout.includes(c.help.summary));
    for (const [name, entry] of Object.entries(c.spec)) {
      assert.ok(typeof entry !== "string" && entry.help.length > 0, `--${name} of kagiya ${c.path} has no description`);
      const line = r.stdout.split("\n").find((l) => l.trimStart().startsWith(`--${name} `) || l.trim() === `--${name}`);
      assert.ok(line, `--${name} missing from kagiya ${c.path} --help`);
      assert.ok(line.includes(entry.help), line);
      if (entry.default !== undefined) assert.ok(line.includes(`default: ${entry.default}`), line);
      if (flagKind(entry) !== "boolean") assert.ok(line.includes(` ${entry.value ?? "VALUE"}`), line);
    }
    for (const env of envOf(c.spec, c.help)) {
      assert.ok(ENVIRONMENT[env], `${env} (read by kagiya ${c.path}) is not described in ENVIRONMENT`);
      assert.match(r.stdout, new RegExp(`^  ${env} +\\S`, "m"));
    }
    assert.match(r.stdout, /^exit codes:\n  0  success\n  1  .+\n  2  bad input/m);
    // The example uses only flags the parser accepts.
    const words = c.help.example.split(/\s+/);
    const at = words.findIndex((w, i) => w === "kagiya" && words.slice(i + 1, i + 1 + c.path.split(" ").length).join(" ") === c.path);
    assert.ok(at >= 0, `the example of kagiya ${c.path} does not run it: ${c.help.example}`);
    for (const w of words.slice(at + 1).filter((w) => w.startsWith("--"))) {
      if (w === "--" || words.indexOf("|", at) !== -1 && words.indexOf(w, at) > words.indexOf("|", at)) continue;
      assert.ok(w.slice(2).split("=")[0]! in c.spec, `the example of kagiya ${c.path} uses ${w}, which its parser refuses`);
    }
    // -h and `kagiya help PATH` print the same help.
    assert.deepEqual(await run([...c.path.split(" "), "-h"]), r);
    assert.deepEqual(await run(["help", ...c.path.split(" ")]), r);
  });

  test(`kagiya ${c.path}: its parser accepts every flag its help lists, and suggests one for a typo`, async () => {
    for (const [name, entry] of Object.entries(c.spec)) {
      // Flags are read left to right: an error about the flag after ours means ours was accepted.
      const given = flagKind(entry) === "boolean" ? [`--${name}`] : [`--${name}`, "x"];
      const r = await run([...c.path.split(" "), ...given, "--zz-not-a-flag"]);
      assert.equal(r.code, 2);
      assert.equal(r.stderr, "kagiya: unknown option --zz-not-a-flag (see --help)\n", `kagiya ${c.path} ${given.join(" ")}`);
    }
    const longest = Object.keys(c.spec).sort((a, b) => b.length - a.length)[0];
    if (longest !== undefined && longest.length >= 4) {
      const typo = longest.slice(0, -2) + longest.at(-1)! + longest.at(-2)!; // last two letters swapped
      const r = await run([...c.path.split(" "), `--${typo}`]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, new RegExp(`did you mean --${longest}\\?`), r.stderr);
    }
  });
}

test("kagiya GROUP --help lists its subcommands with their summaries", async () => {
  for (const group of new Set(commands.filter((c) => c.sub !== "").map((c) => c.group))) {
    const r = await run([group, "--help"]);
    assert.equal(r.code, 0);
    for (const c of commands.filter((x) => x.group === group)) assert.match(r.stdout, new RegExp(`^  ${c.sub} +${c.help!.summary.slice(0, 20).replace(/[()[\]$.*+?]/g, "\\$&")}`, "m"));
    assert.deepEqual(await run([group, "-h"]), r);
    assert.deepEqual(await run(["help", group]), r);
  }
});

test("the bin: --version, -h, help COMMAND, and did-you-mean for a command and a subcommand (one line, exit 2)", async () => {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  assert.deepEqual(await runCli(["--version"]), { code: 0, stdout: `kagiya ${pkg.version}\n`, stderr: "" });
  const h = await runCli(["serve", "-h"]);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /^usage: kagiya serve \[options\]/);
  assert.match(h.stdout, /--port PORT .*default: 8080; env PORT/);
  assert.deepEqual(await runCli(["help", "serve"]), h);
  assert.match((await runCli(["-h"])).stdout, /kagiya help COMMAND/);
  assert.deepEqual(await runCli(["chanel", "list"]), { code: 2, stdout: "", stderr: 'kagiya: unknown command "chanel" (did you mean channel?)\n' });
  assert.deepEqual(await runCli(["token", "gte", "1"]), { code: 2, stdout: "", stderr: 'kagiya: unknown subcommand "token gte" (did you mean get?)\n' });
  assert.deepEqual(await runCli(["help", "chanel"]), { code: 2, stdout: "", stderr: 'kagiya: unknown command "chanel" (did you mean channel?)\n' });
  const far = await runCli(["frobnicate"]);
  assert.equal(far.stderr, 'kagiya: unknown command "frobnicate" (run kagiya --help)\n');
});

test("docs/cli.md holds the exit-code table and every environment variable the help describes", () => {
  const doc = readFileSync(new URL("../../docs/cli.md", import.meta.url), "utf8");
  for (const [code, what] of EXIT_CODES) assert.ok(doc.includes(`| ${code} | ${what} |`), `exit code ${code} row differs from EXIT_CODES`);
  for (const [name, what] of Object.entries(ENVIRONMENT)) assert.ok(doc.includes(`| \`${name}\` | ${what} |`), `${name} is not in docs/cli.md`);
});
