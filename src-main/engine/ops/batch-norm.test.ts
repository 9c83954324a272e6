import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // registers the gradient functions the naive reference needs
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from '../backend/register-wasm-training-kernels.ts';
import { prepareSimdKernels } from '../backend/simd-module.ts';
import { batchNormTrain } from './batch-norm.ts';
import { randomValues, relativeError } from '../testing/tensor-compare.ts';

const EPS = 1e-5;

function naive(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D) {
  const mean = tf.mean(x, [0, 1, 2]);
  const variance = tf.mean(tf.square(tf.sub(x, mean)), [0, 1, 2]);
  const y = tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, EPS))), gamma), beta);
  return { y, mean, variance };
}

type Impl = (x: tf.Tensor4D, g: tf.Tensor1D, b: tf.Tensor1D) => { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor };
const fused: Impl = (x, g, b) => batchNormTrain(x, g, b, EPS);
const naiveRelu: Impl = (x, g, b) => {
  const r = naive(x, g, b);
  return { ...r, y: tf.relu(r.y) };
};
const fusedRelu: Impl = (x, g, b) => batchNormTrain(x, g, b, EPS, { relu: true });

interface Result {
  y: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  dx: Float32Array;
  dGamma: Float32Array;
  dBeta: Float32Array;
}

async function run(backend: string, impl: Impl, shape: [number, number, number, number], seed: number): Promise<Result> {
  await tf.setBackend(backend);
  tf.engine().startScope();
  try {
    const c = shape[3];
    // Offset and scale the input like a conv output, so centring matters.
    const x = tf.tensor4d(randomValues(tf.util.sizeFromShape(shape), seed, 4, 1.5), shape);
    const gamma = tf.tensor1d(randomValues(c, seed + 1, 1, 1));
    const beta = tf.tensor1d(randomValues(c, seed + 2));
    const r = tf.tensor4d(randomValues(tf.util.sizeFromShape(shape), seed + 3), shape);
    const out = impl(x, gamma, beta);
    const [dx, dGamma, dBeta] = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(impl(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D).y, r)),
    )([x, gamma, beta]);
    const f = (t: tf.Tensor) => t.dataSync() as Float32Array;
    return { y: f(out.y), mean: f(out.mean), variance: f(out.variance), dx: f(dx), dGamma: f(dGamma), dBeta: f(dBeta) };
  } finally {
    tf.engine().endScope();
  }
}

function expectClose(actual: Result, expected: Result, tol: number) {
  for (const key of ['y', 'mean', 'variance', 'dx', 'dGamma', 'dBeta'] as const) {
    const err = relativeError(actual[key], expected[key]);
    expect(err, `${key} relative error ${err}`).toBeLessThan(tol);
  }
}

beforeAll(async () => {
  registerWasmTrainingKernels();
  await tf.setBackend('wasm');
  expect(await prepareSimdKernels(tf.backend() as BackendWasm)).not.toBeNull();
});

// Multiples of 4 channels take wasm's fused kernels (one with more rows than a float32 summing chunk), 3 the tf ops.
const shapes: [number, number, number, number][] = [
  [2, 3, 3, 4],
  [4, 5, 7, 3],
  [8, 4, 4, 16],
  [6, 9, 11, 8],
];

describe('batchNormTrain matches autodiff of the naive formula', () => {
  for (const [i, shape] of shapes.entries()) {
    it(`on cpu, x=${shape}`, async () => {
      const expected = await run('cpu', naive, shape, 10 * i + 1);
      const actual = await run('cpu', fused, shape, 10 * i + 1);
      expectClose(actual, expected, 1e-4);
    });
    it(`on wasm, x=${shape}`, async () => {
      const expected = await run('cpu', naive, shape, 10 * i + 1);
      const actual = await run('wasm', fused, shape, 10 * i + 1);
      expectClose(actual, expected, 1e-4);
    });
  }

  for (const [i, shape] of shapes.entries()) {
    it(`with a ReLU folded in, on cpu and wasm, x=${shape}`, async () => {
      const expected = await run('cpu', naiveRelu, shape, 10 * i + 5);
      expectClose(await run('cpu', fusedRelu, shape, 10 * i + 5), expected, 1e-4);
      expectClose(await run('wasm', fusedRelu, shape, 10 * i + 5), expected, 1e-4);
    });
  }

  it('runs the fused kernels on wasm for a multiple of 4 channels', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(randomValues(2 * 3 * 3 * 8, 3), [2, 3, 3, 8]);
    const g = tf.ones([8]) as tf.Tensor1D;
    const b = tf.zeros([8]) as tf.Tensor1D;
    const info = await tf.profile(() => tf.grads((a: tf.Tensor) => tf.sum(batchNormTrain(a as tf.Tensor4D, g, b, EPS).y))([x]));
    const names = new Set(info.kernels.map((k) => k.name));
    for (const k of ['KilnBnStats', 'KilnBnApply', 'KilnBnGrad']) expect(names.has(k), k).toBe(true);
    tf.dispose([x, g, b]);
  });

  it('normalises to zero mean and unit variance per channel with gamma 1, beta 0', async () => {
    await tf.setBackend('wasm');
    tf.tidy(() => {
      // A mean large against the spread: the fused statistics must not cancel.
      const x = tf.tensor4d(randomValues(4 * 3 * 3 * 8, 99, 10, -300), [4, 3, 3, 8]);
      const { y } = batchNormTrain(x, tf.ones([8]) as tf.Tensor1D, tf.zeros([8]) as tf.Tensor1D, EPS);
      const m = tf.mean(y, [0, 1, 2]).dataSync();
      const v = tf.mean(tf.square(y), [0, 1, 2]).dataSync();
      for (let ch = 0; ch < 8; ch++) {
        expect(Math.abs(m[ch])).toBeLessThan(1e-5);
        expect(Math.abs(v[ch] - 1)).toBeLessThan(1e-3);
      }
    });
  });

  it('leaves no tensors behind across repeated gradient steps', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(randomValues(2 * 4 * 4 * 4, 5), [2, 4, 4, 4]);
    const gamma = tf.variable(tf.ones([4]) as tf.Tensor1D);
    const beta = tf.variable(tf.zeros([4]) as tf.Tensor1D);
    const step = () =>
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => {
          const { y, mean } = batchNormTrain(x, gamma, beta, EPS);
          return tf.add(tf.sum(tf.square(y)), tf.sum(mean)) as tf.Scalar;
        });
        gamma.assign(tf.sub(gamma, tf.mul(grads[gamma.name], 0.01)));
        beta.assign(tf.sub(beta, tf.mul(grads[beta.name], 0.01)));
      });
    step();
    const before = tf.memory().numTensors;
    for (let k = 0; k < 3; k++) step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, gamma, beta]);
  });
});
