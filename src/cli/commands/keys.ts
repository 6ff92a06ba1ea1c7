import { chmod, mkdir, open, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { InvalidInputError, KeyError } from "../../core/errors.ts";
import { generateAssertionKeyPair } from "../../core/keys/generate.ts";
import { lintKey } from "../../core/keys/lint.ts";
import { readTextFile } from "../../node/read-text.ts";
import { parseArgs } from "../args.ts";
import { JSON_FLAG, type CommandHelp } from "../help.ts";
import type { Command } from "../io.ts";
import { masterCommands, masterHelp } from "./master.ts";

const PRIVATE_FILE = "private.jwk.json";
const PUBLIC_FILE = "public.jwk.json";

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes `text` to `path` with `mode`, refusing to replace an existing file unless `force`. */
async function writeFileMode(path: string, text: string, mode: number, force: boolean): Promise<void> {
  const handle = await open(path, force ? "w" : "wx", mode);
  try {
    // open()'s mode only applies to new files; an overwritten file keeps its old one otherwise.
    await handle.chmod(mode);
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}

/** `kagiya keys generate [--out DIR] [--key-ops] [--force]` */
const generate: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, {
    out: { kind: "string", value: "DIR", help: "folder to write private.jwk.json (0600) and public.jwk.json into", default: "." },
    "key-ops": { kind: "boolean", help: "mark usage with key_ops ([\"verify\"], [\"sign\"]) instead of use: \"sig\"" },
    force: { kind: "boolean", help: "replace key files already there" },
  });
  if (positionals.length > 0) throw new InvalidInputError(`keys generate takes no arguments (got "${positionals[0]}"): use --out DIR`);
  const dir = resolve(io.cwd, flags.out ?? ".");
  if (await exists(dir)) {
    if (!(await stat(dir)).isDirectory()) throw new InvalidInputError(`--out "${flags.out}" is a file, not a folder`, { field: "--out" });
  } else {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }
  const privatePath = join(dir, PRIVATE_FILE);
  const publicPath = join(dir, PUBLIC_FILE);
  if (!flags.force) {
    for (const path of [privatePath, publicPath]) {
      if (await exists(path)) throw new InvalidInputError(`${path} already exists: pass --force to replace it (the old key stops working for new assertions)`, { field: "--force" });
    }
  }
  const pair = await generateAssertionKeyPair({ keyOps: flags["key-ops"] === true });
  await writeFileMode(privatePath, JSON.stringify(pair.privateJwk, null, 2) + "\n", 0o600, flags.force === true);
  await writeFileMode(publicPath, JSON.stringify(pair.publicJwk, null, 2) + "\n", 0o644, flags.force === true);
  await chmod(privatePath, 0o600);
  io.stdout(JSON.stringify(pair.publicJwk, null, 2) + "\n");
  io.stderr(
    `thumbprint (RFC 7638): ${pair.thumbprint}\n` +
      `wrote ${privatePath} (mode 0600, keep it secret) and ${publicPath}\n` +
      "register the public JWK above in the LINE Developers Console (channel > Basic settings > Assertion Signing Key); it answers with the kid for kagiya jwt create --kid\n",
  );
  return 0;
};

/** `kagiya keys lint FILE... [--public] [--json]` */
const lint: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, {
    public: { kind: "boolean", help: "lint as the public key about to be registered: a private member is then a finding" },
    json: JSON_FLAG,
  });
  if (positionals.length === 0) throw new InvalidInputError("missing FILE: kagiya keys lint FILE... (a JWK or PEM key)");
  const reports = [];
  for (const file of positionals) {
    const text = await readTextFile(file, { cwd: io.cwd, what: "key file" });
    let result;
    try {
      result = await lintKey(text, { public: flags.public === true });
    } catch (error) {
      if (error instanceof KeyError) throw new KeyError(`${file}: ${error.message}`, { code: error.code });
      throw error;
    }
    reports.push({ file, ...result });
  }
  const total = reports.reduce((n, r) => n + r.findings.length, 0);
  if (flags.json) {
    io.stdout(JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2) + "\n");
  } else {
    for (const r of reports) {
      if (r.findings.length === 0) {
        io.stdout(`${r.file}: ok (${r.kind} RSA ${r.bits}-bit, thumbprint ${r.thumbprint})\n`);
        continue;
      }
      for (const f of r.findings) io.stdout(`${r.file}: ${f.field}: ${f.message}; fix: ${f.fix} [${f.code}]\n`);
    }
    if (total > 0) io.stderr(`${total} finding${total === 1 ? "" : "s"}\n`);
  }
  return total === 0 ? 0 : 1;
};

/** Subcommands of `kagiya keys`. */
export const commands: Record<string, Command> = { generate, lint, ...masterCommands };

/** Help for `kagiya keys …`. */
export const help: Record<string, CommandHelp> = {
  generate: {
    summary: "generate an RS256 assertion key pair that meets LINE's rules; prints the public JWK to register",
    example: "kagiya keys generate --out keys",
  },
  lint: {
    summary: "check JWK or PEM keys against LINE's rules and name every problem with its fix",
    args: "FILE...",
    failure: "findings in at least one key",
    example: "kagiya keys lint keys/public.jwk.json --public",
  },
  ...masterHelp,
};
