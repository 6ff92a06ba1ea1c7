/**
 * mulberry32: a tiny seeded PRNG, for reproducible fault injection and fuzzing. Not for secrets.
 *
 * @example
 * ```ts
 * const rand = mulberry32(42);
 * rand(); // the same number in [0, 1) on every run
 * ```
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
