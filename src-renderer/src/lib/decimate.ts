export interface Point {
  x: number;
  y: number | null;
}

/**
 * At most ~`max` points: the series is cut into equal buckets and each keeps its lowest and highest
 * point (in x order), so spikes in a long loss curve survive while chart.js draws a bounded number of points.
 */
export function decimate(points: readonly Point[], max = 600): Point[] {
  if (points.length <= max) return points.slice();
  const buckets = Math.max(1, Math.floor(max / 2));
  const size = points.length / buckets;
  const out: Point[] = [];
  for (let b = 0; b < buckets; b++) {
    const start = Math.floor(b * size);
    const end = Math.min(points.length, Math.floor((b + 1) * size));
    let lo: Point | null = null;
    let hi: Point | null = null;
    for (let i = start; i < end; i++) {
      const p = points[i]!;
      if (p.y === null) continue;
      if (!lo || p.y < lo.y!) lo = p;
      if (!hi || p.y > hi.y!) hi = p;
    }
    if (!lo || !hi) continue;
    if (lo === hi) out.push(lo);
    else if (lo.x < hi.x) out.push(lo, hi);
    else out.push(hi, lo);
  }
  const last = points[points.length - 1]!;
  if (out[out.length - 1] !== last && last.y !== null) out.push(last);
  return out;
}
