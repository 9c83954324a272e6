import * as tf from '@tensorflow/tfjs-core';
import { microBatchLimit } from '../engine/train/micro-batch.ts';
import type { LoadedDataset } from '../common/dataset-types.ts';
import { buildGraph } from '../engine/arch/graph.ts';
import { checkModelSize } from '../engine/arch/model-size.ts';
import { resolveRun } from './resolve-config.ts';
import type { RunConfig } from '../../src-shared/run-config.ts';
import { Model } from '../engine/model/model.ts';
import { Learner } from '../engine/train/learner.ts';
import { Sgd } from '../engine/train/sgd.ts';
import { LrRangeTest, type LrRangeTestOptions } from '../engine/train/lr-range-test.ts';
import type { LrFindPoint, LrFindResult } from '../../src-shared/train-types.ts';

export type LrFindOptions = LrRangeTestOptions;

export const DEFAULT_LR_FIND: LrFindOptions = { startLr: 1e-5, endLr: 10, steps: 100, divergeFactor: 4 };

/**
 * The learning-rate range test (the LrRangeTest callback) from fresh weights, on the run a config would create.
 * Aborting `signal` ends it at the next step with an AbortError.
 */
export async function lrFind(dataset: LoadedDataset, config: RunConfig, opts: LrFindOptions, signal?: AbortSignal): Promise<LrFindResult> {
  const base = resolveRun(config, dataset.train.count, dataset.val.count);
  const spec = base.config.net.arch;
  const epochs = Math.ceil(opts.steps / Math.max(base.stepsPerEpoch, 1));
  const resolved = { ...base, epochs, totalSteps: epochs * base.stepsPerEpoch };
  const graph = buildGraph(spec, { imageSize: dataset.imageSize, numClasses: dataset.classes.length });
  checkModelSize(graph, resolved.batchSize);
  const model = new Model(graph, base.config.seed);
  const sgd = new Sgd(model.params, base.config.opt);
  const learner = new Learner(model, sgd, dataset, base.config, resolved);
  const microBatch = microBatchLimit(graph, resolved.batchSize, tf.getBackend());
  if (microBatch < resolved.batchSize) learner.microBatch = microBatch;
  const test = new LrRangeTest(opts);
  learner.callbacks.push(test);
  try {
    await learner.fit(signal);
  } finally {
    model.dispose();
    sgd.dispose();
  }
  if (signal?.aborted) throw Object.assign(new Error('learning-rate finder cancelled'), { name: 'AbortError' });
  return { points: test.points, ...suggest(test.points), stoppedEarly: test.stoppedEarly, batchSize: resolved.batchSize };
}

/**
 * The batch the range test trains at: what `kiln train` with the same config resolves (an auto batch depends
 * on the data and on whether epochs are given), so its suggestion is for that batch.
 */
export function lrFindBatchSize(dataset: LoadedDataset, config: RunConfig): number {
  return resolveRun(config, dataset.train.count, dataset.val.count).batchSize;
}

/** A learning rate found at one batch size, for another: SGD's linear scaling rule (as Kiln's auto batch scales its LR). */
export function scaleLr(lr: number | null, fromBatch: number, toBatch: number): number | null {
  return lr === null ? null : (lr * toBatch) / fromBatch;
}

export function suggest(points: LrFindPoint[]): { suggestedLr: number | null; minLossLr: number | null } {
  const usable = points.filter((p) => Number.isFinite(p.smoothedLoss));
  if (usable.length < 5) return { suggestedLr: null, minLossLr: null };
  // Skip the first few points, whose average is still settling.
  const skip = Math.min(5, Math.floor(usable.length / 5));
  let minIdx = skip;
  for (let i = skip; i < usable.length; i++) if (usable[i]!.smoothedLoss < usable[minIdx]!.smoothedLoss) minIdx = i;
  let steepest: number | null = null;
  let slope = 0;
  for (let i = skip + 1; i <= minIdx; i++) {
    const d = (usable[i]!.smoothedLoss - usable[i - 1]!.smoothedLoss) / Math.log(usable[i]!.lr / usable[i - 1]!.lr);
    if (d < slope) {
      slope = d;
      steepest = usable[i]!.lr;
    }
  }
  return { suggestedLr: steepest, minLossLr: usable[minIdx]!.lr / 10 };
}
