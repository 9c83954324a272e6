/** mulberry32: a small seeded PRNG, so the same seed always draws the same validation split. */
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

/**
 * Stratified split: within each class a seeded shuffle picks round(n × fraction)
 * items for validation, at least one when the fraction is positive and the class
 * has two or more, and never the whole class.
 */
export function stratifiedSplit(itemsByClass: number[][], fraction: number, seed: number): { train: Set<number>; val: Set<number> } {
  const rand = mulberry32(seed);
  const train = new Set<number>();
  const val = new Set<number>();
  for (const items of itemsByClass) {
    const shuffled = items.slice();
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    let nVal = Math.round(items.length * fraction);
    if (fraction > 0 && items.length >= 2) nVal = Math.max(1, nVal);
    nVal = Math.min(nVal, Math.max(0, items.length - 1));
    shuffled.forEach((item, k) => (k < nVal ? val : train).add(item));
  }
  return { train, val };
}
