/**
 * Plain-text tables for the CLI: columns padded to their widest cell, two spaces apart.
 *
 * @example
 * ```ts
 * process.stdout.write(formatTable(["ID", "NAME"], [["ak_1", "billing"]]));
 * ```
 */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

/** An epoch-ms time as ISO 8601 without milliseconds, or "-" when absent. */
export function formatTime(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? "-" : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}
