#!/usr/bin/env node
// The CLI is written in TypeScript with erasable syntax only: Node 24 runs it directly.
import { main, processIO } from "../src/cli/main.ts";

process.exitCode = await main(process.argv.slice(2), processIO());
