import * as tf from '@tensorflow/tfjs-core';
import type { Model, Param } from '../model/model.ts';
import { smoothedCrossEntropy } from './loss.ts';
import type { Sgd } from './sgd.ts';
import { splitBatch } from './micro-batch.ts';

export interface TrainStepOptions {
  lr: number;
  momentum: number;
  labelSmoothing: number;
  /** Seed of this step's dropout masks. */
  dropoutSeed: number;
  /** Most images per forward/backward pass; a larger batch is split and its gradients accumulated. */
  microBatch?: number;
  /** Only these parameters train (a fine-tune's frozen epochs: the head); default all. */
  params?: readonly Param[];
}

/**
 * One optimiser step on a batch: forward, loss, backward, SGD update. Returns [mean loss, correct predictions] as one
 * tensor, not yet read, so the caller can overlap the next batch's assembly with the backend's work.
 *
 * When the batch is larger than `microBatch`, it runs as near-equal micro-batches whose gradients are summed,
 * each weighted by its share of the batch, so the optimiser sees the gradient of the whole batch's mean loss.
 * Batch norm then normalises with each micro-batch's own statistics (and updates its running statistics once per
 * micro-batch), as data-parallel training without synchronised batch norm does.
 */
export function trainStep(model: Model, sgd: Sgd, x: tf.Tensor4D, y: tf.Tensor1D, opts: TrainStepOptions): tf.Tensor1D {
  return tf.tidy(() => {
    const n = x.shape[0];
    const sizes = splitBatch(n, opts.microBatch ?? n);
    const vars = (opts.params ?? model.params).map((p) => p.variable);
    let grads: tf.NamedTensorMap = {};
    let loss: tf.Tensor = tf.scalar(0);
    let correct: tf.Tensor = tf.scalar(0);
    let start = 0;
    for (const [i, m] of sizes.entries()) {
      const next = tf.tidy(() => {
        const whole = sizes.length === 1;
        const xs = whole ? x : tf.slice(x, [start, 0, 0, 0], [m, -1, -1, -1]);
        const ys = whole ? y : tf.slice(y, [start], [m]);
        let hits: tf.Tensor | undefined;
        const { value, grads: g } = tf.variableGrads(() => {
          const logits = model.forward(xs, true, opts.dropoutSeed + i * 7919);
          hits = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), ys), 'float32')));
          return smoothedCrossEntropy(logits, ys, opts.labelSmoothing);
        }, vars);
        const w = m / n;
        const merged: tf.NamedTensorMap = {};
        for (const [name, t] of Object.entries(g)) {
          const part = whole ? t : tf.mul(t, w);
          merged[name] = grads[name] ? tf.add(grads[name]!, part) : part;
        }
        const total = tf.add(correct, hits!);
        hits!.dispose();
        return { grads: merged, loss: tf.add(loss, tf.mul(value, w)), correct: total };
      });
      tf.dispose([...Object.values(grads), loss, correct]);
      ({ grads, loss, correct } = next);
      start += m;
    }
    sgd.step(grads, opts.lr, opts.momentum);
    return tf.stack([loss, correct]) as tf.Tensor1D;
  });
}
