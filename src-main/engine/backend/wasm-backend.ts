import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError } from './backend-unavailable.ts';
import { firstLine, installed, type BackendEntry, type BackendInfo, type LoadBackendOptions } from './backend-entry.ts';

function defaultWasmThreads(): number {
  const fromEnv = process.env.KILN_WASM_THREADS;
  if (fromEnv) {
    const n = Number(fromEnv);
    if (!Number.isInteger(n) || n < 1) throw new Error(`KILN_WASM_THREADS must be a positive integer, got "${fromEnv}"`);
    return Math.min(n, 8);
  }
  return Math.max(1, Math.min(8, os.availableParallelism?.() ?? os.cpus().length));
}

async function loadWasm(options: LoadBackendOptions): Promise<BackendInfo> {
  const { startWasm } = await import('./wasm-threaded.ts');
  const wanted = options.wasmThreads ?? defaultWasmThreads();
  const started = await startWasm(wanted);
  const { prepareSimdKernels } = await import('./simd-module.ts');
  await prepareSimdKernels(tf.backend() as import('@tensorflow/tfjs-backend-wasm').BackendWasm);
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threadWord = started.threads === 1 ? '1 thread' : `${started.threads} threads`;
  return {
    name: 'wasm',
    tfjsBackend: 'wasm',
    device: `CPU (wasm${simd ? ' SIMD' : ''}, ${threadWord})`,
    threads: started.threads,
    ...(started.fallbackReason ? { fallbackReason: started.fallbackReason } : {}),
  };
}

/** tfjs's WebAssembly backend on XNNPACK threads, with Kiln's training kernels. */
export const WASM_BACKEND: BackendEntry = {
  probe: () =>
    installed('@tensorflow/tfjs-backend-wasm')
      ? { available: true }
      : { available: false, reason: '@tensorflow/tfjs-backend-wasm is not installed' },
  registerKernels: async () => (await import('./register-wasm-training-kernels.ts')).registerWasmTrainingKernels(),
  load: loadWasm,
  auto: [
    {
      rank: 40,
      // Whatever stops wasm here (a missing binary, no threads), auto still has cpu to fall back to.
      load: (o) =>
        loadWasm(o).catch((err: unknown) =>
          Promise.reject(
            err instanceof BackendUnavailableError ? err : new BackendUnavailableError(`backend "wasm" failed: ${firstLine(err)}`),
          ),
        ),
    },
  ],
};
