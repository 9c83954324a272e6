import type { EpochMetric, RunRecord, RunStatus } from './run-types.ts';

export interface ComparedRun {
  id: string;
  name: string;
  status: RunStatus;
  final: RunRecord['final'] | null;
  best: RunRecord['best'] | null;
  wallSeconds: number;
  /** Epochs and steps with metrics logged. */
  epochs: number;
  steps: number;
  /** The run it was fine-tuned from; null when it started from random weights. */
  origin: RunRecord['origin'] | null;
}

/** A run's step series at one aligned step: raw, or the mean loss of a decimation bucket ending there. */
export interface StepPoint {
  loss: number | null;
  lr: number;
  momentum: number;
  epoch: number;
  t: number;
  /** How many logged steps this point stands for (1 when not decimated). */
  n: number;
}

export interface RunComparison {
  runs: ComparedRun[];
  /** Every epoch any run logged, ascending; null where a run has no line for that epoch. */
  byEpoch: { epoch: number; values: Record<string, EpochMetric | null> }[];
  /** The union of the runs' (decimated) steps, ascending; null where a run has no point there. */
  byStep: { step: number; values: Record<string, StepPoint | null> }[];
  /** Only the settings that differ between the runs; a setting a run lacks shows as null. */
  configDiff: { path: string; values: Record<string, unknown> }[];
}
