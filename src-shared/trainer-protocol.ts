import type { SerializedError } from './errors.ts';
import type { EpochMetrics } from './train-types.ts';
import type { WebgpuAdapter } from './backend-types.ts';

/** Messages between a parent (CLI, app, server) and the trainer process of one run. */
export type ParentMessage =
  | { type: 'pause' }
  | { type: 'stop' }
  /** The app's GPU trainer page died, and Chromium's reason for it: the run fails saying so (gpu-trainer-transport.ts). */
  | { type: 'page-gone'; reason: string };

export interface TrainerProgress {
  runId: string;
  epoch: number;
  epochs: number;
  step: number;
  totalSteps: number;
  stepInEpoch: number;
  stepsPerEpoch: number;
  loss: number;
  lr: number;
  momentum: number;
  imagesPerSec: number;
  /** Seconds left, from the throughput so far (training and evaluation); null until measurable. */
  etaSeconds: number | null;
  /**
   * Set while a fast transfer run computes its frozen backbone's features (once per image; cached ones are
   * skipped): images done of those to compute, and that pass's own rate and ETA.
   */
  features?: { done: number; total: number; imagesPerSec: number; etaSeconds: number | null };
}

export type TrainerMessage =
  | {
      type: 'started';
      runId: string;
      backend: { name: string; device: string; adapter?: WebgpuAdapter };
      resumedAtStep: number;
      totalSteps: number;
    }
  | { type: 'progress'; progress: TrainerProgress }
  | { type: 'epoch'; runId: string; metrics: EpochMetrics }
  | { type: 'checkpoint'; runId: string; step: number }
  | {
      type: 'done';
      runId: string;
      outcome: 'finished' | 'paused' | 'stopped' | 'diverged';
      valAcc: number | null;
      ttaAcc: number | null;
      seconds: number;
    }
  | { type: 'error'; runId: string; error: SerializedError };
