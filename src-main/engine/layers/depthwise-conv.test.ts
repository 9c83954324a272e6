import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { loadBackend } from '../backend/load-backend.ts';
import { relativeError } from '../testing/tensor-compare.ts';
import { Rng } from '../util/rng.ts';
import { shiftedDepthwise } from './depthwise-conv.ts';
import { windowOutput } from './padding.ts';

describe('depthwise convolution', () => {
  it('trains as shifted, subsampled slices equal to tfjs depthwiseConv2d at stride 1 and 2, "same" and explicit padding', async () => {
    await loadBackend('wasm', { wasmThreads: 1 });
    const rng = new Rng(7, 1);
    for (const [h, w] of [
      [9, 8],
      [8, 7],
    ] as const) {
      const x = tf.tensor4d(
        Float32Array.from({ length: 2 * h * w * 4 }, () => rng.normal()),
        [2, h, w, 4],
      );
      for (const k of [1, 3, 5]) {
        const kernel = tf.tensor4d(
          Float32Array.from({ length: k * k * 4 }, () => rng.normal()),
          [k, k, 4, 1],
        );
        for (const stride of [1, 2]) {
          for (const pad of [undefined, (k - 1) >> 1]) {
            const ours = shiftedDepthwise(x, kernel, k, stride, pad);
            const theirs = tf.depthwiseConv2d(x, kernel, stride, pad ?? 'same');
            expect(ours.shape).toEqual(theirs.shape);
            expect(ours.shape[1]).toBe(windowOutput(h, k, stride, pad));
            expect(relativeError(ours.dataSync(), theirs.dataSync())).toBeLessThan(1e-5);
            tf.dispose([ours, theirs]);
          }
        }
      }
    }
    const x = tf.tensor4d(
      Float32Array.from({ length: 8 * 8 * 2 }, () => rng.normal()),
      [1, 8, 8, 2],
    );
    const k = tf.tensor4d(
      Float32Array.from({ length: 9 * 2 }, () => rng.normal()),
      [3, 3, 2, 1],
    );
    const g = tf.grad((kk: tf.Tensor) => tf.sum(shiftedDepthwise(x, kk as tf.Tensor4D, 3, 2, 1)))(k);
    expect(g.shape).toEqual([3, 3, 2, 1]);
    expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
  });
});
