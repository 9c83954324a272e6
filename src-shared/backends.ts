import { z } from 'zod';

/**
 * The backends Kiln can train on, as the UI, the CLI help and the run config know them: names and words
 * only. What loads, probes and registers kernels for each is `src-main/engine/backend/registry.ts`, typed
 * so that every name here has exactly one entry there. Order is the order lists show them in.
 */
export const BACKENDS = {
  tensorflow: {
    title: 'TensorFlow native',
    summary: 'CUDA GPU (@tensorflow/tfjs-node-gpu), else TensorFlow on the CPU (@tensorflow/tfjs-node)',
  },
  webgpu: { title: 'WebGPU', summary: 'any GPU with a Vulkan, Metal or D3D12 driver (the webgpu package, Dawn)' },
  wasm: { title: 'WebAssembly', summary: 'CPU, SIMD and threads, with Kiln’s training kernels; always installed' },
  cpu: { title: 'Plain JavaScript', summary: 'CPU, one thread; slow, for tiny tests' },
} as const satisfies Record<string, { title: string; summary: string }>;

export type ConcreteBackendName = keyof typeof BACKENDS;
/** `auto` takes the fastest that loads here (the registry's order). */
export type BackendChoice = 'auto' | ConcreteBackendName;

export const CONCRETE_BACKEND_NAMES = Object.keys(BACKENDS) as ConcreteBackendName[];
export const BACKEND_NAMES: readonly BackendChoice[] = ['auto', ...CONCRETE_BACKEND_NAMES];
export const BackendNameSchema = z.enum(BACKEND_NAMES as [BackendChoice, ...BackendChoice[]]);

/** One backend as the app's info reports it: can it be tried here, and if not, why (one line). */
export interface BackendStatus {
  name: ConcreteBackendName;
  title: string;
  summary: string;
  available: boolean;
  reason?: string;
}
