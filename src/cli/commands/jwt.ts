import type { Command } from "../io.ts";

/** Subcommands of this group (filled in by the issue that delivers it). */
export const commands: Record<string, Command> = {};
