import * as tf from '@tensorflow/tfjs-core';
import type { EpochMetrics } from '../../../src-shared/train-types.ts';
import { planEpoch } from '../data/batches.ts';
import type { Param } from '../model/model.ts';
import { smoothedCrossEntropy } from './loss.ts';
import { scheduleAt, type ScheduleConfig } from './schedule.ts';
import { Sgd } from './sgd.ts';

/**
 * Features of one split as the frozen backbone gave them: `views` per image (1, or 2 with the horizontal flip
 * second), `dim` floats each, image after image.
 */
export interface FeatureSplit {
  count: number;
  views: 1 | 2;
  dim: number;
  data: Float32Array;
  labels: Uint8Array;
}

export interface HeadFitOptions {
  classes: number;
  epochs: number;
  batchSize: number;
  schedule: ScheduleConfig;
  nesterov: boolean;
  weightDecay: number;
  labelSmoothing: number;
  seed: number;
  /** Train on the flipped view of an image when the epoch's plan flips it (the trainer's flip augmentation). */
  flip: boolean;
  /** Also score the mean of the image's and its flip's softmax on validation (needs 2 views). */
  tta: boolean;
  /** The head's starting weights (the model's seeded dense layer): kernel [dim, classes], bias [classes]. */
  kernel: Float32Array;
  bias: Float32Array;
}

export interface HeadStep {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  momentum: number;
}

export interface HeadFitResult {
  /** The best epoch's head (by validation accuracy, the last one on ties), folded for raw features: logits = f·kernel + bias. */
  best: { kernel: Float32Array; bias: Float32Array; epoch: number };
  last: { kernel: Float32Array; bias: Float32Array };
  epochs: EpochMetrics[];
  seconds: number;
}

/**
 * A linear head (a dense layer with bias) trained on frozen features with the trainer's recipe: SGD with momentum,
 * the one-cycle schedule, label smoothing, weight decay, flips as a view of the same image. Features are
 * standardised per dimension while training (one learning rate then suits every backbone, pretrained or not),
 * and the standardisation is folded into the returned kernel and bias, so the head runs on the raw features
 * the backbone's graph gives: the exported model is the backbone with this head, nothing added.
 */
let fits = 0;

export async function fitHead(
  train: FeatureSplit,
  val: FeatureSplit,
  opts: HeadFitOptions,
  hooks: { onStep?(s: HeadStep): void; onEpoch?(m: EpochMetrics): void | Promise<void> } = {},
): Promise<HeadFitResult> {
  const started = performance.now();
  const { dim, views } = train;
  const { mean, inv } = standardiser(train);
  const stepsPerEpoch = Math.floor(train.count / opts.batchSize);
  if (stepsPerEpoch < 1) throw new Error(`fast transfer: batch ${opts.batchSize} is larger than the ${train.count} training images`);
  const totalSteps = stepsPerEpoch * opts.epochs;
  // The seeded initial head is for raw features; standardised features of unit scale take it as is.
  // In a tidy: the variables keep the data, the initial tensors would outlive them.
  const kernel = tf.tidy(() => tf.variable(tf.tensor2d(opts.kernel, [dim, opts.classes]), true, `head-fit/kernel/${++fits}`));
  const bias = tf.tidy(() => tf.variable(tf.tensor1d(opts.bias), true, `head-fit/bias/${fits}`));
  const params: Param[] = [
    { name: 'kernel', variable: kernel, isBnOrBias: false },
    { name: 'bias', variable: bias, isBnOrBias: true },
  ];
  const sgd = new Sgd(params, { nesterov: opts.nesterov, weightDecay: opts.weightDecay, wdExcludeBnBias: true });
  const standardise = (x: tf.Tensor2D) => tf.mul(tf.sub(x, tf.tensor1d(mean)), tf.tensor1d(inv)) as tf.Tensor2D;
  const xTrain = tf.tidy(() => standardise(tf.tensor2d(train.data, [train.count * views, dim])));
  const xVal = val.count > 0 ? tf.tidy(() => standardise(tf.tensor2d(val.data, [val.count * val.views, dim]))) : null;
  const epochs: EpochMetrics[] = [];
  let best: HeadFitResult['best'] | undefined;
  let step = 0;
  try {
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      const epochStart = performance.now();
      // The trainer's own plan (order and flips from seed and epoch), so a fast run repeats exactly.
      const plan = planEpoch(train.count, 1, { cropPadding: 0, flip: opts.flip && views === 2, cutout: 0 }, opts.seed, epoch);
      let lossSum = 0;
      let correct = 0;
      for (let s = 0; s < stepsPerEpoch; s++) {
        const rows = new Int32Array(opts.batchSize);
        const labels = new Int32Array(opts.batchSize);
        for (let b = 0; b < opts.batchSize; b++) {
          const pos = s * opts.batchSize + b;
          const i = plan.order[pos]!;
          rows[b] = i * views + (plan.flip[pos] ?? 0);
          labels[b] = train.labels[i]!;
        }
        const { lr, momentum } = scheduleAt(opts.schedule, step, totalSteps);
        const stats = tf.tidy(() => {
          const x = tf.gather(xTrain, tf.tensor1d(rows, 'int32'));
          const y = tf.tensor1d(labels, 'int32');
          let hits: tf.Tensor | undefined;
          const { value, grads } = tf.variableGrads(() => {
            const logits = tf.add(tf.matMul(x, kernel), bias) as tf.Tensor2D;
            hits = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'float32')));
            return smoothedCrossEntropy(logits, y, opts.labelSmoothing);
          }, [kernel, bias]);
          sgd.step(grads, lr, momentum);
          const out = tf.stack([value, hits!]);
          hits!.dispose();
          return out;
        });
        const [loss, hit] = (await stats.data()) as Float32Array;
        stats.dispose();
        lossSum += loss! * opts.batchSize;
        correct += hit!;
        step++;
        hooks.onStep?.({ step, epoch, loss: loss!, lr, momentum });
      }
      const seconds = (performance.now() - epochStart) / 1000;
      const evalStart = performance.now();
      const v = xVal ? await scoreSplit(xVal, val, kernel, bias, opts.tta) : { loss: NaN, acc: NaN };
      const seen = stepsPerEpoch * opts.batchSize;
      const metrics: EpochMetrics = {
        epoch: epoch + 1,
        step,
        trainLoss: lossSum / seen,
        trainAcc: correct / seen,
        valLoss: v.loss,
        valAcc: v.acc,
        ...(v.ttaAcc !== undefined ? { ttaAcc: v.ttaAcc } : {}),
        lr: scheduleAt(opts.schedule, Math.max(step - 1, 0), totalSteps).lr,
        imagesPerSec: seconds > 0 ? seen / seconds : 0,
        seconds,
        evalSeconds: (performance.now() - evalStart) / 1000,
      };
      epochs.push(metrics);
      // The trainer's rule for `best`: validation accuracy improved (without validation, the last epoch).
      if (!best || Number.isNaN(metrics.valAcc) || metrics.valAcc > epochs[best.epoch - 1]!.valAcc) {
        best = { ...(await folded(kernel, bias, mean, inv)), epoch: epoch + 1 };
      }
      await hooks.onEpoch?.(metrics);
    }
    return { best: best!, last: await folded(kernel, bias, mean, inv), epochs, seconds: (performance.now() - started) / 1000 };
  } finally {
    tf.dispose([xTrain, ...(xVal ? [xVal] : []), kernel, bias]);
    sgd.dispose();
  }
}

/** Per-dimension mean and 1/std over every training view (a dimension that never varies keeps scale 1). */
function standardiser(split: FeatureSplit): { mean: Float32Array; inv: Float32Array } {
  const { dim } = split;
  const rows = split.count * split.views;
  const mean = new Float64Array(dim);
  const sq = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    for (let d = 0; d < dim; d++) {
      const v = split.data[r * dim + d]!;
      mean[d]! += v;
      sq[d]! += v * v;
    }
  }
  const inv = new Float32Array(dim);
  const m = new Float32Array(dim);
  for (let d = 0; d < dim; d++) {
    m[d] = mean[d]! / rows;
    const variance = Math.max(sq[d]! / rows - m[d]! * m[d]!, 0);
    inv[d] = variance > 1e-12 ? 1 / Math.sqrt(variance) : 1;
  }
  return { mean: m, inv };
}

/** logits = ((f − μ)·s)·W + b = f·(s∘W) + (b − (μ∘s)·W): the head for raw features. */
async function folded(
  kernel: tf.Variable,
  bias: tf.Variable,
  mean: Float32Array,
  inv: Float32Array,
): Promise<{ kernel: Float32Array; bias: Float32Array }> {
  const [k, b] = tf.tidy(() => {
    const s = tf.tensor2d(inv, [inv.length, 1]);
    const k = tf.mul(kernel, s);
    const b = tf.sub(bias, tf.squeeze(tf.matMul(tf.tensor2d(mean, [1, mean.length]), k)));
    return [k, b];
  });
  const out = { kernel: (await k!.data()) as Float32Array, bias: (await b!.data()) as Float32Array };
  tf.dispose([k!, b!]);
  return out;
}

/** Validation loss and accuracy of the head (plain cross-entropy, the trainer's), with TTA over the two views. */
async function scoreSplit(
  x: tf.Tensor2D,
  split: FeatureSplit,
  kernel: tf.Variable,
  bias: tf.Variable,
  tta: boolean,
): Promise<{ loss: number; acc: number; ttaAcc?: number }> {
  const withTta = tta && split.views === 2;
  const stats = tf.tidy(() => {
    const logits = tf.add(tf.matMul(x, kernel), bias);
    const byView = tf.reshape(logits, [split.count, split.views, -1]);
    const plain = tf.squeeze(tf.slice(byView, [0, 0, 0], [-1, 1, -1]), [1]) as tf.Tensor2D;
    const y = tf.tensor1d(Int32Array.from(split.labels), 'int32');
    const loss = tf.mean(tf.losses.softmaxCrossEntropy(tf.oneHot(y, plain.shape[1]), plain, undefined, 0, tf.Reduction.NONE));
    const hits = (t: tf.Tensor) => tf.mean(tf.cast(tf.equal(tf.argMax(t, 1), y), 'float32'));
    const parts = [loss, hits(plain)];
    if (withTta) parts.push(hits(tf.sum(tf.softmax(byView), 1)));
    return tf.stack(parts);
  });
  const v = (await stats.data()) as Float32Array;
  stats.dispose();
  return { loss: v[0]!, acc: v[1]!, ...(withTta ? { ttaAcc: v[2]! } : {}) };
}
