import type { Command } from "../io.ts";

/** `kagiya keys new-master` and `kagiya keys rotate-master` (spread into the keys group). */
export const masterCommands: Record<string, Command> = {};
