// Builds the published package: compiled JavaScript and declarations in dist/ (run by `prepack`,
// so `npm pack` and `npm publish` always ship fresh output). The repository itself runs src/.
import { spawnSync } from "node:child_process";
import { cpSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const tsc = join(dirname(fileURLToPath(import.meta.resolve("typescript/package.json"))), "bin", "tsc");

rmSync(join(root, "dist"), { recursive: true, force: true });
const result = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
if (result.status !== 0) process.exit(result.status ?? 1);
// The dashboard's static files are read at run time next to the compiled server.
cpSync(join(root, "src/server/ui"), join(root, "dist/server/ui"), { recursive: true });
