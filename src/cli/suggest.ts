/** Edit distance with adjacent transpositions (optimal string alignment): "chanel" is 1 from "channel". */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate closest to `input` when it is close enough to be a typo (at most a third of
 * its length, and at most 3 edits), or a candidate `input` is a prefix of; else undefined.
 */
export function closest(input: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    if (c === "") continue;
    const d = distance(input.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  if (best !== undefined && bestDistance <= Math.min(3, Math.max(1, Math.floor(best.length / 3)))) return best;
  for (const c of candidates) if (input.length >= 2 && c.startsWith(input)) return c;
  return undefined;
}

/** " (did you mean X?)" or "", for the end of an error message. */
export function didYouMean(input: string, candidates: Iterable<string>, prefix = ""): string {
  const match = closest(input, candidates);
  return match === undefined ? "" : ` (did you mean ${prefix}${match}?)`;
}
