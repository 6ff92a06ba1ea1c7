#!/usr/bin/env node
// Plain JavaScript on purpose: it must run on any Node to say which version kagiya needs.
// node:sqlite is unflagged from 22.13, so older Nodes stop here, before anything loads it.
import { existsSync } from "node:fs";

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 13)) {
  process.stderr.write(`kagiya: needs Node.js 22.13 or newer (this is ${process.version})\n`);
  process.exit(2);
}

// Node 22 calls node:sqlite experimental and says so on every run; the CLI's users cannot act on it.
const emitWarning = process.emitWarning;
process.emitWarning = function (warning, ...rest) {
  if (String(warning).startsWith("SQLite is an experimental feature")) return;
  return emitWarning.call(process, warning, ...rest);
};

// In the repository the TypeScript sources run directly (Node 24); the published package has
// no src/ and runs its compiled dist/ (Node refuses to strip types under node_modules).
const source = new URL("../src/cli/main.ts", import.meta.url);
const { main, processIO } = await import(existsSync(source) ? source.href : "../dist/cli/main.js");
process.exitCode = await main(process.argv.slice(2), processIO());
