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
  // Long enough for the test's steps; the test sets the learning rate itself.
  const resolved = { ...base, config: { ...base.config, opt: { ...base.config.opt, epochs } }, totalSteps: epochs * base.stepsPerEpoch };
  const { batchSize } = resolved.config.opt;
  const graph = buildGraph(spec, { imageSize: dataset.imageSize, numClasses: dataset.classes.length });
  checkModelSize(graph, batchSize, 'architecture', tf.getBackend());
  const model = new Model(graph, base.config.seed);
  const sgd = new Sgd(model.params, base.config.opt);
  const learner = new Learner(model, sgd, dataset, resolved);
  const microBatch = microBatchLimit(graph, batchSize, tf.getBackend());
  if (microBatch < batchSize) learner.microBatch = microBatch;
  const test = new LrRangeTest(opts);
  learner.callbacks.push(test);
  try {
    await learner.fit(signal);
  } finally {
    model.dispose();
    sgd.dispose();
  }
  if (signal?.aborted) throw Object.assign(new Error('learning-rate finder cancelled'), { name: 'AbortError' });
  return { points: test.points, ...suggest(test.points), stoppedEarly: test.stoppedEarly, batchSize };
}

/**
 * The batch the range test trains at: what `kiln train` with the same config resolves (an auto batch depends
 * on the data and on whether epochs are given), so its suggestion is for that batch.
 */
export function lrFindBatchSize(dataset: LoadedDataset, config: RunConfig): number {
  return resolveRun(config, dataset.train.count, dataset.val.count).config.opt.batchSize;
}

/** A learning rate found at one batch size, for another: SGD's linear scaling rule (as Kiln's auto batch scales its LR). */
export function scaleLr(lr: number | null, fromBatch: number, toBatch: number): number | null {
  return lr === null ? null : (lr * toBatch) / fromBatch;
}

/**
 * The suggestion, as fastai's `valley`: on the smoothed loss (the first tenth of the points, still settling, and
 * the last few, where it turns up, left out; nothing from a non-finite loss on), the longest run of points that
 * each lie below some earlier one, i.e. the longest stretch of descent however noisy; the LR two thirds of the
 * way down it. The steepest single step, used before, picked a noise dip near the start (1e-4 where 0.01–0.05
 * trained best). `minLossLr` is the older rule of thumb: a tenth of the LR at the lowest smoothed loss; the suggestion
 * is never below it (test/lr-find-real.test.ts).
 */
export function suggest(points: LrFindPoint[]): { suggestedLr: number | null; minLossLr: number | null } {
  const firstBad = points.findIndex((p) => !Number.isFinite(p.smoothedLoss));
  const finite = firstBad < 0 ? points : points.slice(0, firstBad);
  const usable = finite.slice(Math.floor(points.length / 10), Math.max(0, finite.length - 5));
  if (usable.length < 5) return { suggestedLr: null, minLossLr: null };
  const losses = usable.map((p) => p.smoothedLoss);
  const n = losses.length;
  // lds[i]: the longest strictly decreasing subsequence ending at i (fastai's "longest valley").
  const lds = new Array<number>(n).fill(1);
  let maxStart = 0;
  let maxEnd = 0;
  for (let i = 1; i < n; i++) {
    for (let j = 0; j < i; j++) {
      if (losses[i]! < losses[j]! && lds[i]! < lds[j]! + 1) lds[i] = lds[j]! + 1;
      if (lds[maxEnd]! < lds[i]!) {
        maxEnd = i;
        maxStart = maxEnd - lds[maxEnd]!;
      }
    }
  }
  const sections = (maxEnd - maxStart) / 3;
  const idx = Math.min(n - 1, Math.max(0, maxStart + Math.floor(sections) + Math.floor(sections / 2)));
  let minIdx = 0;
  for (let i = 1; i < n; i++) if (losses[i]! < losses[minIdx]!) minIdx = i;
  const minLossLr = usable[minIdx]!.lr / 10;
  // The suggestion is a one-cycle run's *max* LR, where valley alone runs low: on 2,048 CIFAR-10 images it said 0.058
  // where a sweep's best max LR was 0.64 (0.16 close behind). Not below a tenth of the minimum, the classic rule.
  return { suggestedLr: maxEnd > 0 ? Math.max(usable[idx]!.lr, minLossLr) : null, minLossLr };
}
