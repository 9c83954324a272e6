/**
 * The y range worth showing for an LR finder's curve: from a little below the lowest smoothed loss to a little above
 * where it started. The blow-up at the end (one loss of 13 where the start was 1.1) would otherwise set the axis
 * and flatten the part that matters, the descent.
 */
export function lrChartRange(points: readonly { smoothedLoss: number }[]): { min: number; max: number } | null {
  const losses = points.map((p) => p.smoothedLoss).filter(Number.isFinite);
  if (losses.length < 2) return null;
  const head = losses.slice(0, Math.max(1, Math.ceil(losses.length / 10)));
  const start = Math.max(...head);
  const low = Math.min(...losses);
  const top = Math.max(start, low) * 1.15;
  const span = Math.max(top - low, 1e-6);
  return { min: Math.max(0, low - 0.1 * span), max: top };
}
