import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // gradient functions
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from './register-wasm-training-kernels.ts';
import { startWasm } from './wasm-threaded.ts';
import { prepareSimdKernels } from './simd-module.ts';
import { batchNormTrain } from '../ops/batch-norm.ts';
import { randomValues } from '../testing/tensor-compare.ts';

/** Loss and all gradients of a small conv → BN → ReLU → maxpool → conv net, as flat arrays. */
function trainingStepResults(): Float32Array[] {
  tf.engine().startScope();
  try {
    const x = tf.tensor4d(randomValues(4 * 16 * 16 * 8, 1), [4, 16, 16, 8]);
    const w1 = tf.tensor4d(randomValues(3 * 3 * 8 * 32, 2), [3, 3, 8, 32]);
    const w2 = tf.tensor4d(randomValues(3 * 3 * 32 * 16, 3), [3, 3, 32, 16]);
    const gamma = tf.tensor1d(randomValues(32, 4).map((v) => v + 1));
    const beta = tf.tensor1d(randomValues(32, 5));
    const f = (...p: tf.Tensor[]) => {
      const [a, b, g, be] = p as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
      let h = tf.conv2d(x, a, 1, 'same');
      h = tf.relu(batchNormTrain(h, g, be, 1e-5).y);
      h = tf.maxPool(h, 2, 2, 'valid');
      h = tf.conv2d(h, b, 2, 'same');
      return tf.mean(tf.square(h)) as tf.Scalar;
    };
    const { value, grads } = tf.valueAndGrads(f)([w1, w2, gamma, beta]);
    return [value, ...grads].map((t) => t.dataSync() as Float32Array);
  } finally {
    tf.engine().endScope();
  }
}

// Kiln's SIMD kernels live on each wasm instance's heap: a new instance needs them made again,
// as loadBackend does after startWasm.
async function start(threads: number): Promise<Awaited<ReturnType<typeof startWasm>>> {
  const started = await startWasm(threads);
  await prepareSimdKernels(tf.backend() as import('@tensorflow/tfjs-backend-wasm').BackendWasm);
  return started;
}

describe('multithreaded wasm in Node', () => {
  it('runs two XNNPACK threads and trains to the same numbers as one thread', async () => {
    registerWasmTrainingKernels();
    const single = await start(1);
    expect(single.threads).toBe(1);
    expect(tf.getBackend()).toBe('wasm');
    const reference = trainingStepResults();

    const multi = await start(2);
    expect(multi.fallbackReason).toBeUndefined();
    expect(multi.threads).toBe(2);
    expect(getThreadsCount()).toBe(2);
    expect(tf.getBackend()).toBe('wasm');
    const threaded = trainingStepResults();

    expect(threaded.length).toBe(reference.length);
    for (let i = 0; i < reference.length; i++) {
      let diff = 0;
      let scale = 0;
      for (let j = 0; j < reference[i].length; j++) {
        diff = Math.max(diff, Math.abs(threaded[i][j] - reference[i][j]));
        scale = Math.max(scale, Math.abs(reference[i][j]));
      }
      expect(scale).toBeGreaterThan(0);
      expect(diff / scale).toBeLessThan(1e-5);
    }

    // Back to one thread: the threaded instance is disposed and tfjs's own build serves again.
    const again = await startWasm(1);
    expect(again.threads).toBe(1);
    expect(getThreadsCount()).toBe(1);
  });

  it('falls back to one working thread, with the reason, when the threaded module cannot start in time', async () => {
    registerWasmTrainingKernels();
    const started = await startWasm(2, { initTimeoutMs: 1 });
    expect(started.threads).toBe(1);
    expect(started.fallbackReason).toMatch(/did not finish within/);
    expect(tf.getBackend()).toBe('wasm');
    expect(getThreadsCount()).toBe(1);
    const y = tf.tidy(
      () => tf.sum(tf.conv2d(tf.ones([1, 4, 4, 2]) as tf.Tensor4D, tf.ones([3, 3, 2, 1]) as tf.Tensor4D, 1, 'same')).dataSync()[0],
    );
    expect(y).toBe(2 * (4 * 4 + 8 * 6 + 4 * 9)); // 4 corners × 4 taps, 8 edge cells × 6, 4 inner × 9; 2 channels
  });

  it('lets a process that used two threads exit on its own', () => {
    const code = [
      '(async () => {',
      "  const tf = await import('@tensorflow/tfjs-core');",
      "  const { loadBackend } = await import('./src-main/engine/backend/load-backend.ts');",
      "  const info = await loadBackend('wasm', { wasmThreads: 2 });",
      "  const s = tf.sum(tf.conv2d(tf.ones([2, 8, 8, 4]), tf.ones([3, 3, 4, 4]), 1, 'same')).dataSync()[0];",
      '  console.log(JSON.stringify({ threads: info.threads, s }));',
      '})();',
    ].join('\n');
    const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], {
      cwd: new URL('../../../', import.meta.url).pathname,
      encoding: 'utf8',
      timeout: 90_000,
    });
    expect(child.error).toBeUndefined();
    expect(child.status, child.stderr.slice(0, 2000)).toBe(0);
    const out = JSON.parse(child.stdout.trim().split('\n').pop()!);
    expect(out.threads).toBe(2);
    // 4 channels × 4 filters... each output sums 4·taps over a 8×8 map: taps total per map = 4·4+24·6+36·9 = 484.
    expect(out.s).toBe(2 * 4 * 4 * 484);
  });
});
