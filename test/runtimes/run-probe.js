// Entry point for Deno and Bun: prints the probe's report as one JSON line.
import { probe } from "./probe.js";

console.log(JSON.stringify(await probe()));
