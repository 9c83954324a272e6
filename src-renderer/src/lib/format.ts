/** Number and time formats shared by the views. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatCompact(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (abs >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (abs >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(Math.round(n));
}

export function formatPercent(x: number | null | undefined, digits = 1): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '–' : `${(x * 100).toFixed(digits)}%`;
}

export function formatNumber(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  if (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e5)) return x.toExponential(2);
  return Number(x.toPrecision(digits)).toString();
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m) return `${m}m ${String(r).padStart(2, '0')}s`;
  return `${r}s`;
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '?';
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(0)} KiB`;
  return `${n} B`;
}

export function formatDate(iso: string | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  return `${d.toLocaleDateString('en-CA')} ${d.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' })}`;
}

/** A training time before it starts, as people say it: "about 12 min", "about 2.5 h"; rough figures say so. */
export function formatEstimate(e: { seconds: number; basis: 'past' | 'rough' }): string {
  const minutes = e.seconds / 60;
  const text = minutes < 1 ? 'under 1 min' : minutes < 90 ? `about ${Math.round(minutes)} min` : `about ${Math.round(minutes / 6) / 10} h`;
  return e.basis === 'rough' ? `${text} (rough)` : text;
}

/**
 * A run's training time now: what its record said when it was read, plus the time since then while it is running
 * (the trainer writes its time at each epoch's end, so between those the figure is counted on here).
 */
export function liveWallSeconds(wallSeconds: number, running: boolean, readAt: number, now: number): number {
  return wallSeconds + (running ? Math.max(0, now - readAt) / 1000 : 0);
}
