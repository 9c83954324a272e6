/** The CLI's one set of formatters: durations, percentages, numbers, dates, tables, sizes and progress bars. */
import { formatBytesDecimal } from '../../src-shared/dataset-size.ts';

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '-';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return `${h}h${String(m % 60).padStart(2, '0')}m`;
}

export function formatPercent(fraction: number | null | undefined, digits = 2): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '-';
  return `${(fraction * 100).toFixed(digits)}%`;
}

export function formatNumber(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined) return '-';
  if (!Number.isFinite(value)) return String(value);
  if (value !== 0 && (Math.abs(value) < 1e-3 || Math.abs(value) >= 1e6)) return value.toExponential(2);
  return String(Number(value.toPrecision(digits)));
}

/** Local time, minutes: `2026-11-29 02:15`. */
export function formatDate(iso: string | undefined): string {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** Columns padded to their widest cell; numbers (and `-`) right-aligned when `right` says so. */
export function formatTable(headers: string[], rows: string[][], right: boolean[] = []): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right[i] ? c.padStart(widths[i]!) : i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** A setting's value as one short cell. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'number') return formatNumber(value, 6);
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/**
 * A progress bar `████░░░░`, `????????` while the total is unknown (null); with `withPercent`, the percentage
 * after it. Every progress line of the CLI (training, downloads, imports) draws this one.
 */
export function bar(fraction: number | null, width = 20, withPercent = false): string {
  if (fraction === null) return '?'.repeat(width) + (withPercent ? '    ' : '');
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const filled = Math.round(f * width);
  return '█'.repeat(filled) + '░'.repeat(width - filled) + (withPercent ? ` ${(f * 100).toFixed(0).padStart(3)}%` : '');
}

export function formatInt(n: number): string {
  return n.toLocaleString('en-US');
}

/** Decimal units, as download sites and the README give sizes (CIFAR-10's 170,052,171 bytes are "170 MB"). */
export const formatBytes = formatBytesDecimal;
