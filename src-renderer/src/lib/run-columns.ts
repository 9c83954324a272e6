import type { RunRecord } from '../../../src-shared/run-types.ts';
import { archLabel } from './compare-charts.ts';
import { formatDate, formatDuration, formatNumber, formatPercent } from './format.ts';

/** A column of the runs table: how to sort by it (a number or a string) and how to show it. */
export interface RunColumn {
  key: string;
  label: string;
  numeric: boolean;
  value: (r: RunRecord) => number | string | null;
  show: (r: RunRecord) => string;
}

const num = (
  key: string,
  label: string,
  value: (r: RunRecord) => number | null | undefined,
  show: (v: number | null | undefined) => string,
): RunColumn => ({
  key,
  label,
  numeric: true,
  value: (r) => value(r) ?? null,
  show: (r) => show(value(r)),
});
const text = (key: string, label: string, value: (r: RunRecord) => string): RunColumn => ({
  key,
  label,
  numeric: false,
  value,
  show: value,
});

/** Runs whose progress means something now: the progress column is drawn for these alone. */
const IN_PROGRESS = new Set(['queued', 'running', 'paused']);

/**
 * In the order they show: what tells runs apart and how they did first (a 1024 px window sees these without
 * scrolling), then the config as trained (the recipe's values where the request said auto), then when, then tags.
 */
export const RUN_COLUMNS: RunColumn[] = [
  text('name', 'Name', (r) => r.name),
  text('status', 'Status', (r) => r.status),
  num(
    'progress',
    'Progress',
    (r) => (IN_PROGRESS.has(r.status) && r.progress.totalSteps ? r.progress.step / r.progress.totalSteps : null),
    (v) => formatPercent(v),
  ),
  num(
    'valAcc',
    'Val acc',
    (r) => r.final?.valAcc,
    (v) => formatPercent(v),
  ),
  num(
    'best',
    'Best acc',
    (r) => r.best?.valAcc,
    (v) => formatPercent(v),
  ),
  // One TTA figure everywhere: the evaluation's (Evaluate shows the same), else the last epoch's.
  num(
    'tta',
    'TTA acc',
    (r) => r.evaluation?.ttaAcc ?? r.final?.ttaAcc,
    (v) => formatPercent(v, 2),
  ),
  num(
    'time',
    'Time',
    (r) => r.wallSeconds,
    (v) => formatDuration(v),
  ),
  text('dataset', 'Dataset', (r) => r.dataset.name),
  text('arch', 'Arch', (r) => archLabel(r) ?? ''),
  num(
    'epochs',
    'Epochs',
    (r) => r.resolved.config.opt.epochs,
    (v) => String(v ?? ''),
  ),
  num(
    'batch',
    'Batch',
    (r) => r.resolved.config.opt.batchSize,
    (v) => String(v ?? ''),
  ),
  num(
    'lr',
    'Max LR',
    (r) => r.resolved.config.opt.lrMax,
    (v) => formatNumber(v, 3),
  ),
  num(
    'wd',
    'WD',
    (r) => r.resolved.config.opt.weightDecay,
    (v) => formatNumber(v, 3),
  ),
  num(
    'seed',
    'Seed',
    (r) => r.resolved.config.seed,
    (v) => String(v ?? ''),
  ),
  num(
    'valLoss',
    'Val loss',
    (r) => r.final?.valLoss,
    (v) => formatNumber(v, 4),
  ),
  { key: 'created', label: 'Created', numeric: false, value: (r) => r.createdAt, show: (r) => formatDate(r.createdAt) },
  text('tags', 'Tags', (r) => (r.tags ?? []).join(' ')),
];

/** Columns a person may hide (the column chooser); name, status, the accuracies and time always show. */
export const OPTIONAL_COLUMNS: ReadonlySet<string> = new Set(
  RUN_COLUMNS.map((c) => c.key).filter((k) => !['name', 'status', 'valAcc', 'best', 'tta', 'time'].includes(k)),
);

/** Runs whose name, status, dataset, architecture, tags or notes contain every word of `query`. */
export function filterRuns(list: readonly RunRecord[], query: string): RunRecord[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return [...list];
  return list.filter((r) => {
    const hay = [r.name, r.status, r.dataset.name, archLabel(r) ?? '', ...(r.tags ?? []).map((t) => `#${t} ${t}`), r.notes ?? '']
      .join(' ')
      .toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

/** Sorted by a column; empty values go last either way. */
export function sortRuns(list: readonly RunRecord[], column: RunColumn, dir: 1 | -1): RunRecord[] {
  return [...list].sort((a, b) => {
    const va = column.value(a);
    const vb = column.value(b);
    if (va === null || vb === null) return va === vb ? 0 : va === null ? 1 : -1;
    return (typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va).localeCompare(String(vb))) * dir;
  });
}
