import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // registers the gradient functions
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from './register-wasm-training-kernels.ts';
import { prepareSimdKernels } from './simd-module.ts';
import { randomValues, relativeError } from '../testing/tensor-compare.ts';

async function onBackend<T>(name: string, f: () => T): Promise<T> {
  await tf.setBackend(name);
  tf.engine().startScope();
  try {
    return f();
  } finally {
    tf.engine().endScope();
  }
}

beforeAll(async () => {
  registerWasmTrainingKernels();
  await tf.setBackend('wasm');
  expect(await prepareSimdKernels(tf.backend() as BackendWasm)).not.toBeNull();
});

describe('registerWasmTrainingKernels', () => {
  it('registers every kernel for wasm and is idempotent', () => {
    registerWasmTrainingKernels();
    registerWasmTrainingKernels();
    for (const config of WASM_TRAINING_KERNELS) {
      expect(tf.getKernel(config.kernelName, 'wasm')?.kernelFunc).toBe(config.kernelFunc);
    }
  });
});

type ConvCase = { x: [number, number, number, number]; k: number; f: number; s: number; pad: 'same' | 'valid' };
const convCases: ConvCase[] = [
  { x: [2, 5, 5, 3], k: 3, f: 4, s: 1, pad: 'same' },
  { x: [2, 6, 6, 3], k: 3, f: 5, s: 2, pad: 'same' },
  { x: [3, 7, 7, 4], k: 3, f: 6, s: 2, pad: 'same' },
  { x: [2, 7, 7, 4], k: 1, f: 3, s: 2, pad: 'same' },
  { x: [1, 9, 9, 2], k: 1, f: 3, s: 2, pad: 'same' },
  { x: [3, 6, 6, 2], k: 1, f: 4, s: 1, pad: 'valid' },
  { x: [2, 8, 8, 3], k: 3, f: 2, s: 1, pad: 'valid' },
  { x: [2, 9, 9, 3], k: 3, f: 4, s: 2, pad: 'valid' },
  { x: [1, 10, 10, 2], k: 3, f: 3, s: 2, pad: 'valid' },
  { x: [2, 8, 8, 3], k: 5, f: 4, s: 1, pad: 'same' },
  { x: [4, 8, 8, 16], k: 3, f: 24, s: 1, pad: 'same' },
  { x: [2, 11, 9, 8], k: 3, f: 16, s: 2, pad: 'same' },
  // Stride-2 input gradients by phase: 16+ channels are copied back as whole runs, and a 1×1 filter leaves 3 of the
  // 4 phases zero.
  { x: [2, 8, 8, 16], k: 3, f: 8, s: 2, pad: 'same' },
  { x: [2, 8, 10, 16], k: 1, f: 32, s: 2, pad: 'same' },
  { x: [1, 11, 11, 3], k: 5, f: 2, s: 3, pad: 'same' },
  // Big enough that the filter gradient splits the batch into image groups (4 + 3, then 3 × 3 at stride 2).
  { x: [7, 32, 32, 3], k: 3, f: 4, s: 1, pad: 'same' },
  { x: [9, 64, 64, 2], k: 3, f: 3, s: 2, pad: 'same' },
  { x: [5, 40, 40, 2], k: 1, f: 3, s: 1, pad: 'valid' },
  // Even kernels pad unevenly under 'same' (the filter gradient's swapped form must mirror that).
  { x: [2, 7, 6, 3], k: 2, f: 5, s: 1, pad: 'same' },
  { x: [2, 9, 8, 2], k: 4, f: 3, s: 1, pad: 'same' },
];

describe('Conv2D gradients on wasm match cpu', () => {
  for (const [i, c] of convCases.entries()) {
    it(`x=${c.x} ${c.k}x${c.k} stride ${c.s} ${c.pad}`, async () => {
      const wShape = [c.k, c.k, c.x[3], c.f] as [number, number, number, number];
      const xv = randomValues(tf.util.sizeFromShape(c.x), 11 + i);
      const wv = randomValues(tf.util.sizeFromShape(wShape), 101 + i);
      const run = () => {
        const x = tf.tensor4d(xv, c.x);
        const w = tf.tensor4d(wv, wShape);
        const y = tf.conv2d(x, w, c.s, c.pad);
        const r = tf.tensor(randomValues(y.size, 1001 + i), y.shape);
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad), r)),
        )([x, w]);
        return { dx: dx.dataSync(), dw: dw.dataSync(), dxShape: dx.shape, dwShape: dw.shape };
      };
      const cpu = await onBackend('cpu', run);
      const wasm = await onBackend('wasm', run);
      expect(wasm.dxShape).toEqual(c.x);
      expect(wasm.dwShape).toEqual(wShape);
      expect(relativeError(wasm.dx, cpu.dx)).toBeLessThan(1e-4);
      expect(relativeError(wasm.dw, cpu.dw)).toBeLessThan(1e-4);
    });
  }
});

type PoolCase = { x: [number, number, number, number]; k: number; s: number; pad: 'same' | 'valid'; relu: boolean };
const poolCases: PoolCase[] = [
  // 2×2 stride 2 over even maps with a multiple of 4 channels takes the SIMD loop; the rest the JS one.
  { x: [2, 6, 6, 4], k: 2, s: 2, pad: 'valid', relu: false },
  { x: [3, 8, 4, 12], k: 2, s: 2, pad: 'valid', relu: true },
  { x: [2, 8, 8, 5], k: 2, s: 2, pad: 'valid', relu: true }, // ReLU zeros make ties: the first maximum must win
  { x: [2, 7, 7, 3], k: 2, s: 2, pad: 'same', relu: false },
  { x: [2, 7, 7, 3], k: 3, s: 1, pad: 'same', relu: true },
  { x: [3, 9, 9, 2], k: 3, s: 2, pad: 'valid', relu: false },
  { x: [1, 8, 8, 3], k: 3, s: 2, pad: 'same', relu: false },
];

describe('MaxPool gradient on wasm matches cpu', () => {
  for (const [i, c] of poolCases.entries()) {
    it(`x=${c.x} ${c.k}x${c.k} stride ${c.s} ${c.pad}${c.relu ? ' with ties' : ''}`, async () => {
      const xv = randomValues(tf.util.sizeFromShape(c.x), 7 + i);
      const run = () => {
        const x = tf.tensor4d(xv, c.x);
        const pool = (a: tf.Tensor) => tf.maxPool((c.relu ? tf.relu(a) : a) as tf.Tensor4D, c.k, c.s, c.pad);
        const y = pool(x);
        const r = tf.tensor(randomValues(y.size, 77 + i), y.shape);
        const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(pool(a), r)))(x);
        return dx.dataSync();
      };
      const cpu = await onBackend('cpu', run);
      const wasm = await onBackend('wasm', run);
      expect(relativeError(wasm, cpu)).toBeLessThan(1e-4);
    });
  }
});

describe('Cast on wasm', () => {
  it('matches cpu for every dtype pair and keeps a same-dtype result alive after its input is disposed', async () => {
    const values = [-2.7, -0.5, 0, 0.4, 1.5, 3.9];
    const run = () => {
      const f = tf.tensor1d(values);
      const out: Record<string, number[]> = {};
      for (const [from, to] of [
        ['float32', 'float32'],
        ['float32', 'int32'],
        ['float32', 'bool'],
        ['int32', 'float32'],
        ['int32', 'int32'],
        ['bool', 'float32'],
      ] as const) {
        const src = from === 'float32' ? f : tf.cast(f, from);
        out[`${from}->${to}`] = Array.from(tf.cast(src, to).dataSync());
      }
      const x = tf.tensor1d(values);
      const same = tf.cast(x, 'float32');
      x.dispose();
      tf.mul(same, 1).dataSync(); // the shared buffer must still be readable and usable
      out.afterDispose = Array.from(same.dataSync());
      return out;
    };
    const cpu = await onBackend('cpu', run);
    const wasm = await onBackend('wasm', run);
    expect(wasm).toEqual(cpu);
    expect(wasm.afterDispose).toEqual(Array.from(new Float32Array(values)));
  });
});
