import { getKernel, registerKernel, unregisterKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { conv2dBackpropFilterConfig } from './conv2d-backprop-filter.ts';
import { conv2dBackpropInputConfig } from './conv2d-backprop-input.ts';
import { maxPoolGradConfig } from './max-pool-grad.ts';
import { identityConfig } from './identity.ts';
import { castConfig } from './cast.ts';
import { bnApplyConfig, bnGradConfig, bnStatsConfig } from './batch-norm-kernels.ts';

/** Kernels Kiln adds to (or replaces in) the wasm backend so that it can train. */
export const WASM_TRAINING_KERNELS: readonly KernelConfig[] = [
  conv2dBackpropFilterConfig,
  conv2dBackpropInputConfig,
  maxPoolGradConfig,
  identityConfig,
  castConfig,
  bnStatsConfig,
  bnApplyConfig,
  bnGradConfig,
];

/**
 * Registers the training kernels for the wasm backend. Idempotent: a kernel that is already Kiln's is left alone, and a
 * stock one is unregistered first so tfjs does not warn about the override. Works before or after the backend has
 * been initialised, since none of these kernels needs a setup step.
 */
export function registerWasmTrainingKernels(): void {
  for (const config of WASM_TRAINING_KERNELS) {
    const current = getKernel(config.kernelName, 'wasm');
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current) unregisterKernel(config.kernelName, 'wasm');
    registerKernel(config);
  }
}
