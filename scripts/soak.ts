// The soak: `npm run soak -- --seed N --days D --instances K --channels M [--store redis|postgres]`.
// Plays a seeded schedule of LINE faults, SIGKILLs, store outages, webhooks and token reads against
// K `kagiya serve` processes on the emulator's moving clock, then prints the invariant table.
// Exit 0: every invariant held; 1: a violation (the seed is printed to replay it); 2: bad parameters.
// See docs/development.md ("Soak").
import { parseSoakArgs, SoakParamError, USAGE } from "../test/soak/params.ts";
import { formatReport, runSoak } from "../test/soak/run.ts";

const argv = process.argv.slice(2);
if (argv.includes("--help") || argv.includes("-h")) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
let params;
try {
  params = parseSoakArgs(argv);
} catch (error) {
  if (!(error instanceof SoakParamError)) throw error;
  process.stderr.write(`soak: ${error.message}\n`);
  process.exit(2);
}
const log = (line: string) => process.stderr.write(`${line}\n`);
// Stopped early: the kagiya processes go with the harness (an exit handler SIGKILLs them).
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    process.stderr.write(`soak: stopped by ${signal} (seed ${params.seed})\n`);
    process.exit(130);
  });
}
try {
  const result = await runSoak(params, { log });
  process.stdout.write(formatReport(result) + "\n");
  if (result.failed) process.stderr.write(`soak FAILED: seed ${params.seed} (replay with the line above)\n`);
  process.exitCode = result.failed ? 1 : 0;
} catch (error) {
  process.stderr.write(`soak: could not run (seed ${params.seed}): ${(error as Error).message}\n`);
  process.exitCode = 1;
}
// Exit now: after some long Redis runs Node's exit-time handle cleanup spun for good
// (Environment::CleanupHandles under perf) with every kagiya process already gone.
process.exit();
