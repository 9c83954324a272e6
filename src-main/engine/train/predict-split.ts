import * as tf from '@tensorflow/tfjs-core';
import type { LoadedDataset } from '../../common/dataset-types.ts';
import { assembleEvalBatch, normalisationTable } from '../data/batches.ts';
import type { Model } from '../model/model.ts';
import { yieldToEventLoop } from './learner.ts';

const BATCH = 250;

/** Per image and class: the logits, their softmax, and the TTA probability (image + horizontal flip). */
export interface SplitPredictions {
  scores: Float32Array;
  probs: Float32Array;
  ttaProbs: Float32Array;
}

/**
 * The first `count` validation images through `model` in BN inference mode, on tfjs's current backend: what an
 * evaluation scores. Runs in a trainer process and on the GPU trainer page alike (no Node API).
 */
export async function predictSplit(model: Model, dataset: LoadedDataset, count: number): Promise<SplitPredictions> {
  const size = dataset.imageSize;
  const per = size * size * 3;
  const k = dataset.classes.length;
  const lut = normalisationTable(dataset.mean, dataset.std);
  const scores = new Float32Array(count * k);
  const probs = new Float32Array(count * k);
  const ttaProbs = new Float32Array(count * k);
  for (let start = 0; start < count; start += BATCH) {
    const n = Math.min(BATCH, count - start);
    const images = new Float32Array(n * per);
    const labels = new Int32Array(n);
    assembleEvalBatch(dataset.val, size, start, n, lut, images, labels);
    const out = tf.tidy(() => {
      const x = tf.tensor4d(images, [n, size, size, 3]);
      const logits = model.forward(x, false);
      const p = tf.softmax(logits);
      // Same arithmetic as the trainer's TTA accuracy (sum of the two softmaxes), halved into a probability.
      const flipped = tf.softmax(model.forward(tf.reverse(x, 2), false));
      return [logits, p, tf.div(tf.add(p, flipped), 2)];
    });
    const [l, p, t] = await Promise.all(out.map((o) => o.data() as Promise<Float32Array>));
    tf.dispose(out);
    scores.set(l!, start * k);
    probs.set(p!, start * k);
    ttaProbs.set(t!, start * k);
    await yieldToEventLoop();
  }
  return { scores, probs, ttaProbs };
}
