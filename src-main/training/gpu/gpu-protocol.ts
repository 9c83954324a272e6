import type { LoadedDataset } from '../../common/dataset-types.ts';
import type { SerializedError } from '../../../src-shared/errors.ts';
import type { EpochMetrics } from '../../../src-shared/train-types.ts';
import type { ResolvedRun } from '../../../src-shared/run-config.ts';
import type { WebgpuAdapter } from '../../../src-shared/backend-types.ts';
import type { FitOutcome, StepMetrics } from '../../engine/train/learner.ts';
import type { Position } from '../../engine/train/position.ts';

/**
 * The GPU trainer page (a hidden renderer on Chromium's WebGPU in the app; Debian's Chromium in tests) and the
 * process that owns the run's files (the trainer process, or a test) talk in these messages over a MessagePort
 * (or the test's WebSocket, wire-codec.ts). The owner keeps the run: dataset bytes, checkpoints, run record and
 * metrics; the page keeps only the model on the device and runs the learner's steps. Pause/stop, progress and
 * checkpoints reach the host through the trainer protocol as for any run.
 */

/** The self-check's verdict (webgpu-self-check.ts): `ok`, or one line saying what failed. */
export type SelfCheckResult = { ok: true; seconds: number } | { ok: false; reason: string };

export type OwnerMessage =
  /** Run the self-check now (no verdict for this adapter and driver is cached). */
  | { type: 'check' }
  /** Train from `position` with `state` (the owner's model and optimiser, fresh or from a checkpoint). */
  | {
      type: 'init';
      resolved: ResolvedRun;
      dataset: LoadedDataset;
      position: Position;
      state: Record<string, Float32Array>;
      microBatch?: number;
      /** Per-parameter learning-rate factors (a backbone's body when fine-tuning), as the owner's optimiser has them. */
      lrScale?: Record<string, number>;
    }
  /** End the fit after the current step: 'pause' or 'stop' (the trainer's AbortSignal, forwarded). */
  | { type: 'stop'; reason: 'pause' | 'stop' | 'diverge' }
  /**
   * After the fit: the first `count` validation images of the run's dataset through the model with these weights
   * (a checkpoint's, by variable name), in BN inference mode, with TTA: the run's evaluation, on the GPU.
   */
  | { type: 'predict'; weights: Record<string, Float32Array>; count: number }
  /** Nothing more to do: the page closes its window. */
  | { type: 'close' };

export type PageMessage =
  /** First, once WebGPU is up: the adapter, and a key naming it with its driver for the self-check cache. */
  | { type: 'hello'; adapter: WebgpuAdapter; adapterKey: string; userAgent: string }
  | { type: 'checked'; result: SelfCheckResult }
  /** Steps read back from the device (one read covers several on a pipelined loop), and where the run stands after them. */
  | { type: 'steps'; steps: StepMetrics[]; position: Position }
  /** An epoch's end: its metrics, the position after it, and the whole state for the owner's checkpoints. */
  | { type: 'epoch'; metrics: EpochMetrics; position: Position; state: Record<string, Float32Array>; tensors: number }
  | { type: 'done'; outcome: FitOutcome; position: Position; state: Record<string, Float32Array> }
  /** The answer to 'predict' (predict-split.ts), per image and class. */
  | { type: 'predicted'; scores: Float32Array; probs: Float32Array; ttaProbs: Float32Array }
  | { type: 'error'; error: SerializedError };

/** One end of the page link, whatever carries it. */
export interface Link<Out, In> {
  send(message: Out): void;
  onMessage(listener: (message: In) => void): void;
  /** The other side went away (its process or page is gone, or the socket closed), and why when the host knows. */
  onClose(listener: (reason?: string) => void): void;
  close(): void;
}

export type OwnerLink = Link<OwnerMessage, PageMessage>;
export type PageLink = Link<PageMessage, OwnerMessage>;
