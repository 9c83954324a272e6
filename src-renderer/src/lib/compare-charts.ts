import type { RunComparison } from '../../../src-shared/run-comparison.ts';
import type { RunRecord } from '../../../src-shared/run-types.ts';
import { PALETTE, type ChartSeries, type LineChartConfig } from './chart-config.ts';
import { decimate, type Point } from './decimate.ts';
import { smooth } from './series-math.ts';

export type CompareAxis = 'epoch' | 'step' | 'time';
export const AXIS_LABEL: Record<CompareAxis, string> = { epoch: 'epoch', step: 'step', time: 'wall time (s)' };

export interface CompareOptions {
  axis: CompareAxis;
  /** 0 (off) to 0.99: TensorBoard's EMA weight, for the loss and accuracy curves. */
  smoothing: number;
  /** Log scale for the loss and learning-rate axes. */
  log: boolean;
}

export interface CompareCharts {
  valAcc: LineChartConfig;
  valLoss: LineChartConfig;
  trainLoss: LineChartConfig;
  lr: LineChartConfig;
  momentum: LineChartConfig;
}

type Run = RunComparison['runs'][number];

/**
 * A step's position in epochs for one run (epoch 3 ends at its third epoch line's step), so step
 * series (loss, LR, momentum) overlay on the epoch axis too.
 */
function stepToEpoch(c: RunComparison, runId: string): (step: number) => number {
  const ends = [
    { epoch: 0, step: 0 },
    ...c.byEpoch.flatMap((row) => (row.values[runId] ? [{ epoch: row.epoch, step: row.values[runId]!.step }] : [])),
  ];
  return (step) => {
    for (let i = 1; i < ends.length; i++) {
      const a = ends[i - 1]!;
      const b = ends[i]!;
      if (step <= b.step) return a.epoch + (b.step > a.step ? (step - a.step) / (b.step - a.step) : 1);
    }
    // Past the last finished epoch (a run still training): extend at the last epoch's pace.
    const last = ends.at(-1)!;
    const prev = ends.at(-2);
    const perEpoch = prev && last.step > prev.step ? last.step - prev.step : 1;
    return last.epoch + (step - last.step) / perEpoch;
  };
}

/** The overlays of the compare view: one series per run (plus its pale raw line when smoothed). */
export function compareCharts(c: RunComparison, o: CompareOptions): CompareCharts {
  const x = { label: AXIS_LABEL[o.axis], integer: o.axis === 'step' };
  const color = (i: number) => PALETTE[i % PALETTE.length]!;

  const epochSeries = (
    run: Run,
    pick: (m: NonNullable<RunComparison['byEpoch'][number]['values'][string]>) => number | null | undefined,
  ): Point[] =>
    c.byEpoch.flatMap((row): Point[] => {
      const m = row.values[run.id];
      if (!m) return [];
      const y = pick(m);
      return [{ x: o.axis === 'epoch' ? m.epoch : o.axis === 'step' ? m.step : m.t, y: y ?? null }];
    });
  const stepSeries = (run: Run, pick: (s: NonNullable<RunComparison['byStep'][number]['values'][string]>) => number | null): Point[] => {
    const toEpoch = stepToEpoch(c, run.id);
    return decimate(
      c.byStep.flatMap((row): Point[] => {
        const s = row.values[run.id];
        return s ? [{ x: o.axis === 'epoch' ? toEpoch(row.step) : o.axis === 'step' ? row.step : s.t, y: pick(s) }] : [];
      }),
    );
  };
  const lines = (points: (run: Run) => Point[], smoothed: boolean, dots: boolean): ChartSeries[] =>
    c.runs.flatMap((run, i): ChartSeries[] => {
      const raw = points(run);
      if (!smoothed || !(o.smoothing > 0)) return [{ label: run.name, color: color(i), dots, points: raw }];
      return [
        { label: run.name, color: color(i), faded: true, points: raw },
        { label: run.name, color: color(i), dots, points: smooth(raw, o.smoothing) },
      ];
    });
  const logAxis = (label: string) => ({ label, ...(o.log ? { log: true } : {}) });

  return {
    valAcc: {
      kind: 'line',
      title: 'Validation accuracy',
      x,
      y: { label: 'accuracy', percent: true, max: 1 },
      series: lines((run) => epochSeries(run, (m) => m.valAcc), true, true),
    },
    valLoss: {
      kind: 'line',
      title: 'Validation loss',
      x,
      y: logAxis('loss'),
      series: lines((run) => epochSeries(run, (m) => m.valLoss), true, true),
    },
    trainLoss: {
      kind: 'line',
      title: 'Training loss',
      x,
      y: logAxis('loss'),
      series: lines((run) => stepSeries(run, (s) => s.loss), true, false),
    },
    lr: {
      kind: 'line',
      title: 'Learning rate',
      x,
      y: logAxis('learning rate'),
      series: lines((run) => stepSeries(run, (s) => s.lr), false, false),
    },
    momentum: {
      kind: 'line',
      title: 'Momentum',
      x,
      y: { label: 'momentum' },
      series: lines((run) => stepSeries(run, (s) => s.momentum), false, false),
    },
  };
}

/** The architecture a run trained, as a person names it: the preset it named, or its spec's name and kind. */
export function archLabel(record: RunRecord | undefined): string | null {
  if (!record) return null;
  const a = record.resolved.config.net.arch;
  return record.resolved.presetId ?? `${a.name ?? 'custom'} (${a.kind})`;
}

/**
 * The config differences as a person reads them: a preset named by id and a custom spec flattened
 * to `net.arch.widths[…]` rows compare as one `net.arch` row of names (the built specs' differences
 * stay in the `arch.*` rows).
 */
export function readableDiff(diff: RunComparison['configDiff'], records: readonly RunRecord[]): RunComparison['configDiff'] {
  const archRows = diff.filter((d) => d.path === 'net.arch' || d.path.startsWith('net.arch.') || d.path.startsWith('net.arch['));
  if (!archRows.length) return diff;
  const ids = Object.keys(archRows[0]!.values);
  const row = { path: 'net.arch', values: Object.fromEntries(ids.map((id) => [id, archLabel(records.find((r) => r.id === id))])) };
  const rest = diff.filter((d) => !archRows.includes(d));
  const at = diff.indexOf(archRows[0]!);
  return [...rest.slice(0, at), row, ...rest.slice(at)];
}

/** Each run's epoch lines (and, separately, its logged steps) as CSV rows. */
export function epochCsvRows(c: RunComparison): { columns: string[]; rows: unknown[][] } {
  const columns = [
    'run',
    'run_id',
    'epoch',
    'step',
    'wall_seconds',
    'train_loss',
    'train_acc',
    'val_loss',
    'val_acc',
    'tta_acc',
    'lr',
    'images_per_sec',
  ];
  const rows = c.runs.flatMap((run) =>
    c.byEpoch.flatMap((row) => {
      const m = row.values[run.id];
      return m
        ? [[run.name, run.id, m.epoch, m.step, m.t, m.trainLoss, m.trainAcc, m.valLoss, m.valAcc, m.ttaAcc ?? null, m.lr, m.imagesPerSec]]
        : [];
    }),
  );
  return { columns, rows };
}

export function stepCsvRows(c: RunComparison): { columns: string[]; rows: unknown[][] } {
  const columns = ['run', 'run_id', 'step', 'epoch', 'wall_seconds', 'loss', 'lr', 'momentum'];
  const rows = c.runs.flatMap((run) =>
    c.byStep.flatMap((row) => {
      const s = row.values[run.id];
      return s ? [[run.name, run.id, row.step, s.epoch, s.t, s.loss, s.lr, s.momentum]] : [];
    }),
  );
  return { columns, rows };
}
