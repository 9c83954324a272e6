import { describe, it, expect } from 'vitest';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { loadBackend, BackendUnavailableError, type BackendInfo } from './load-backend.ts';
import type { BackendChoice } from '../../../src-shared/backends.ts';
import { probeWebgpu } from './webgpu.ts';

const require = createRequire(import.meta.url);
function installed(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

describe('loadBackend', () => {
  it('loads wasm with the training kernels and reports it', async () => {
    const info = await loadBackend('wasm', { wasmThreads: 1 });
    expect(info).toMatchObject({ name: 'wasm', tfjsBackend: 'wasm', threads: 1 });
    expect(info.device).toMatch(/^CPU \(wasm( SIMD)?, 1 thread\)$/);
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    // Gradients are registered too: a conv weight gradient computes on wasm.
    const g = tf.tidy(() =>
      tf
        .grad((w: tf.Tensor) => tf.sum(tf.conv2d(tf.ones([1, 3, 3, 1]) as tf.Tensor4D, w as tf.Tensor4D, 1, 'valid')))(
          tf.ones([3, 3, 1, 1]),
        )
        .dataSync(),
    );
    expect(Array.from(g)).toEqual(new Array(9).fill(1));
  });

  it('loads cpu and reports it', async () => {
    const info = await loadBackend('cpu');
    expect(info).toEqual({ name: 'cpu', tfjsBackend: 'cpu', device: 'CPU (plain JavaScript, 1 thread)', threads: 1 });
    expect(tf.getBackend()).toBe('cpu');
  });

  it('explains in one line why an explicitly requested tensorflow backend cannot load', async () => {
    if (installed('@tensorflow/tfjs-node') || installed('@tensorflow/tfjs-node-gpu')) {
      const info = await loadBackend('tensorflow');
      expect(info.tfjsBackend).toBe('tensorflow');
      return;
    }
    const err = await loadBackend('tensorflow').then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BackendUnavailableError);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    expect(message).toMatch(/tfjs-node is not installed/);
    expect(message).toMatch(/npm install @tensorflow\/tfjs-node@4\.22\.0/);
  });

  it('either loads webgpu or explains in one line why not', async () => {
    const result: BackendInfo | unknown = await loadBackend('webgpu').then(
      (info) => info,
      (e: unknown) => e,
    );
    if (result instanceof Error) {
      expect(result).toBeInstanceOf(BackendUnavailableError);
      expect(result.message).toMatch(/^backend "webgpu" is unavailable: /);
      expect(result.message).not.toContain('\n');
    } else {
      const info = result as BackendInfo;
      expect(info).toMatchObject({ name: 'webgpu', tfjsBackend: 'webgpu' });
      // Every run records the adapter it trained on.
      expect(info.adapter).toEqual({
        vendor: expect.any(String),
        architecture: expect.any(String),
        description: expect.any(String),
        software: expect.any(Boolean),
      });
      expect(info.device).toContain('WebGPU');
    }
  });

  it('picks a working backend for auto', async () => {
    const info = await loadBackend('auto', { wasmThreads: 1 });
    expect(['tensorflow', 'webgpu', 'wasm', 'cpu']).toContain(info.name);
    expect(tf.getBackend()).toBe(info.tfjsBackend);
    // auto never trains on a software WebGPU adapter (Mesa llvmpipe here): wasm is ~40× faster.
    if (info.name === 'webgpu') expect(info.adapter?.software).toBe(false);
    const adapter = await probeWebgpu().catch(() => null);
    const tensorflow = installed('@tensorflow/tfjs-node') || installed('@tensorflow/tfjs-node-gpu');
    if (!tensorflow && (!adapter || adapter.software)) expect(info.name).toBe('wasm');
  });

  it('rejects an unknown backend name', async () => {
    await expect(loadBackend('metal' as BackendChoice)).rejects.toThrow(/unknown backend "metal"/);
  });
});
