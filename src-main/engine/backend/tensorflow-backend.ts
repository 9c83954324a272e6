import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError } from './backend-unavailable.ts';
import { firstLine, importOptional, installed, type BackendEntry, type BackendInfo } from './backend-entry.ts';

const PACKAGES = {
  gpu: ['@tensorflow/tfjs-node-gpu', 'CUDA GPU (TensorFlow native library)'],
  cpu: ['@tensorflow/tfjs-node', `CPU (TensorFlow native library, ${os.cpus().length} cores)`],
} as const;

async function loadTensorflow(kinds: readonly ('gpu' | 'cpu')[]): Promise<BackendInfo> {
  const failures: string[] = [];
  for (const [pkg, device] of kinds.map((k) => PACKAGES[k])) {
    try {
      const mod = await importOptional(pkg);
      if (mod === null) {
        failures.push(`${pkg} is not installed`);
        continue;
      }
    } catch (err) {
      failures.push(`${pkg} failed to load: ${firstLine(err)}`);
      continue;
    }
    if (await tf.setBackend('tensorflow')) {
      return { name: 'tensorflow', tfjsBackend: 'tensorflow', device, threads: os.cpus().length };
    }
    failures.push(`${pkg} loaded but its backend did not initialise`);
  }
  throw new BackendUnavailableError(
    `backend "tensorflow" is unavailable: ${failures.join('; ')}; install one with ` +
      '`npm install @tensorflow/tfjs-node@4.22.0` (or @tensorflow/tfjs-node-gpu@4.22.0 for CUDA)',
  );
}

/** TensorFlow's native library: the CUDA build first, else the CPU build. */
export const TENSORFLOW_BACKEND: BackendEntry = {
  probe: () =>
    installed('@tensorflow/tfjs-node-gpu') || installed('@tensorflow/tfjs-node')
      ? { available: true }
      : { available: false, reason: '@tensorflow/tfjs-node is not installed' },
  load: () => loadTensorflow(['gpu', 'cpu']),
  // CUDA beats every other backend; TensorFlow's CPU build comes after a hardware WebGPU adapter.
  auto: [
    { rank: 10, load: () => loadTensorflow(['gpu']) },
    { rank: 30, load: () => loadTensorflow(['cpu']) },
  ],
};
