import type { Point } from './decimate.ts';

/**
 * TensorBoard's smoothing: an exponential moving average, debiased so the first points are not
 * pulled towards zero. `weight` 0 returns the points as they are; gaps (null) stay gaps.
 */
export function smooth(points: readonly Point[], weight: number): Point[] {
  if (!(weight > 0)) return points.slice();
  let last = 0;
  let n = 0;
  return points.map((p) => {
    if (p.y === null || !Number.isFinite(p.y)) return p;
    last = last * weight + (1 - weight) * p.y;
    n++;
    return { x: p.x, y: last / (1 - weight ** n) };
  });
}

/** The point nearest to `x` (by x), or null for an empty series. */
export function nearest(points: readonly Point[], x: number): Point | null {
  let best: Point | null = null;
  for (const p of points) if (p.y !== null && (!best || Math.abs(p.x - x) < Math.abs(best.x - x))) best = p;
  return best;
}

/** Rows as CSV (RFC 4180 quoting), with a header line. */
export function toCsv(columns: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cell = (v: unknown) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [columns, ...rows].map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

/** Save text as a file through the browser's download (works the same in the app). */
export function download(name: string, text: string, type = 'text/csv'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
