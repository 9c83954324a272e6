import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { loadBackend } from '../backend/load-backend.ts';
import { relativeError } from '../testing/tensor-compare.ts';
import { Rng } from '../util/rng.ts';
import { depthwiseForTraining, shiftedDepthwise } from './depthwise-conv.ts';
import { tfPad, windowOutput } from './padding.ts';

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

  it("trains with tfjs's forward and a tap-by-tap gradient equal to the cpu backend's depthwise gradient kernels, holding only its inputs", async () => {
    const rng = new Rng(11, 1);
    const cases: { h: number; w: number; k: number; stride: number; pad: number | undefined }[] = [];
    for (const [h, w] of [
      [9, 8],
      [8, 7],
    ] as const)
      for (const k of [1, 3, 5])
        for (const stride of [1, 2]) for (const pad of [undefined, (k - 1) >> 1]) cases.push({ h, w, k, stride, pad });
    const inputs = cases.map(({ h, w, k }) => ({
      x: Float32Array.from({ length: 2 * h * w * 3 }, () => rng.normal()),
      kernel: Float32Array.from({ length: k * k * 3 }, () => rng.normal()),
    }));
    // The loss weights each output differently, so every gradient entry is tested, not only sums.
    const run = (f: typeof depthwiseForTraining) =>
      cases.map(({ h, w, k, stride, pad }, c) => {
        const x = tf.tensor4d(inputs[c]!.x, [2, h, w, 3]);
        const kernel = tf.tensor4d(inputs[c]!.kernel, [k, k, 3, 1]);
        const loss = (xx: tf.Tensor, kk: tf.Tensor) => {
          const y = f(xx as tf.Tensor4D, kk as tf.Tensor4D, k, stride, pad);
          return tf.sum(tf.mul(y, tf.sin(tf.reshape(tf.range(0, y.size), y.shape))));
        };
        const [dx, dk] = tf.grads(loss)([x, kernel]);
        const out = { y: f(x, kernel, k, stride, pad).dataSync(), dx: dx!.dataSync(), dk: dk!.dataSync() };
        tf.dispose([x, kernel, dx!, dk!]);
        return out;
      });
    await loadBackend('cpu');
    const want = run((x, w, _k, stride = 1, pad) => tf.depthwiseConv2d(x, w, stride, tfPad(pad)));
    for (const backend of ['cpu', 'wasm'] as const) {
      await loadBackend(backend, { wasmThreads: 1 });
      const got = run(depthwiseForTraining);
      for (const [c, g] of got.entries()) {
        const where = `${backend} ${JSON.stringify(cases[c])}`;
        expect(relativeError(g.y, want[c]!.y), `${where} y`).toBeLessThan(1e-5);
        expect(relativeError(g.dx, want[c]!.dx), `${where} dx`).toBeLessThan(1e-5);
        expect(relativeError(g.dk, want[c]!.dk), `${where} dk`).toBeLessThan(1e-5);
      }
    }
    // Memory: a training forward keeps its input and weights, not one slice and product per tap.
    const x = tf.randomNormal([4, 32, 32, 16]) as tf.Tensor4D;
    const kernel = tf.variable(tf.randomNormal([3, 3, 16, 1]));
    const kept = (f: typeof depthwiseForTraining) => {
      const before = tf.memory().numBytes;
      let during = 0;
      const { value, grads } = tf.variableGrads(() => {
        const y = tf.sum(f(x, kernel as unknown as tf.Tensor4D, 3, 1));
        during = tf.memory().numBytes - before;
        return y as tf.Scalar;
      });
      tf.dispose([value, ...Object.values(grads)]);
      return during;
    };
    // Measured: about 3 input sizes (the output and tfjs's copies) against 64 through autodiff of the slices.
    const lean = kept(depthwiseForTraining);
    expect(lean).toBeLessThanOrEqual(4 * x.size * 4);
    expect(kept(shiftedDepthwise)).toBeGreaterThan(10 * lean);
    tf.dispose([x, kernel]);
  });
});
