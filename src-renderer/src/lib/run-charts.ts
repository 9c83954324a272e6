import type { EpochPoint, StepPoint } from '../state/runs-state.svelte.ts';
import type { LineChartConfig } from './chart-config.ts';
import { PALETTE } from './chart-config.ts';
import { decimate } from './decimate.ts';

/** The Train view's three live plots, built from a run's points; long series are decimated here. */
export function lossChart(steps: readonly StepPoint[], epochs: readonly EpochPoint[]): LineChartConfig {
  return {
    kind: 'line',
    title: 'Loss',
    x: { label: 'step', integer: true },
    y: { label: 'loss' },
    series: [
      { label: 'train (per step)', color: PALETTE[0]!, points: decimate(steps.map((s) => ({ x: s.step, y: s.loss }))) },
      {
        label: 'train (epoch mean)',
        color: PALETTE[0]!,
        dashed: true,
        dots: true,
        points: epochs.map((e) => ({ x: e.step, y: e.trainLoss })),
      },
      { label: 'validation', color: PALETTE[1]!, dots: true, points: epochs.map((e) => ({ x: e.step, y: e.valLoss })) },
    ],
  };
}

export function accuracyChart(epochs: readonly EpochPoint[]): LineChartConfig {
  const series: LineChartConfig['series'] = [
    { label: 'train', color: PALETTE[0]!, dots: true, points: epochs.map((e) => ({ x: e.epoch, y: e.trainAcc })) },
    { label: 'validation', color: PALETTE[1]!, dots: true, points: epochs.map((e) => ({ x: e.epoch, y: e.valAcc })) },
  ];
  if (epochs.some((e) => e.ttaAcc !== undefined)) {
    series.push({
      label: 'validation + TTA',
      color: PALETTE[2]!,
      dots: true,
      dashed: true,
      points: epochs.map((e) => ({ x: e.epoch, y: e.ttaAcc ?? null })),
    });
  }
  return {
    kind: 'line',
    title: 'Accuracy',
    x: { label: 'epoch', integer: true },
    y: { label: 'accuracy', percent: true, min: 0, max: 1 },
    series,
  };
}

export function scheduleChart(steps: readonly StepPoint[]): LineChartConfig {
  return {
    kind: 'line',
    title: 'Learning rate and momentum',
    x: { label: 'step', integer: true },
    y: { label: 'learning rate' },
    y2: { label: 'momentum' },
    series: [
      { label: 'learning rate', color: PALETTE[4]!, points: decimate(steps.map((s) => ({ x: s.step, y: s.lr }))) },
      { label: 'momentum', color: PALETTE[3]!, right: true, points: decimate(steps.map((s) => ({ x: s.step, y: s.momentum }))) },
    ],
  };
}
