import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { quietTfjs } from './quiet.ts';
import { BackendUnavailableError } from './backend-unavailable.ts';
import { adapterDevice, startWebgpu } from './webgpu.ts';
import type { WebgpuAdapter } from '../../../src-shared/backend-types.ts';

export type BackendName = 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

export interface BackendInfo {
  name: Exclude<BackendName, 'auto'>;
  /** The name tfjs knows the backend by (`tf.getBackend()`). */
  tfjsBackend: string;
  /** What it runs on, for people and run records, e.g. "CPU (wasm SIMD, 2 threads)". */
  device: string;
  threads: number;
  /** The WebGPU adapter, when the backend is webgpu. */
  adapter?: WebgpuAdapter;
  /** Set when more wasm threads were asked for than could be started, saying why. */
  fallbackReason?: string;
}

export interface LoadBackendOptions {
  /** XNNPACK threads for wasm; default KILN_WASM_THREADS or the number of CPUs (at most 8). */
  wasmThreads?: number;
}

export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'];

export { BackendUnavailableError };

// Optional packages are imported through a variable so neither TypeScript nor a bundler insists they exist.
async function importOptional(specifier: string): Promise<unknown | null> {
  try {
    return await import(specifier);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      // Only "this package is absent" means absent; a package that is present but broken must say so.
      if (String((err as Error).message).includes(`'${specifier}'`)) return null;
    }
    throw err;
  }
}

/** Gradient functions live in tfjs-layers' bundle (tfjs-core's Node bundle registers none); training needs them. */
async function ensureGradients(): Promise<void> {
  await import('@tensorflow/tfjs-layers');
}

function defaultWasmThreads(): number {
  const fromEnv = process.env.KILN_WASM_THREADS;
  if (fromEnv) {
    const n = Number(fromEnv);
    if (!Number.isInteger(n) || n < 1) throw new Error(`KILN_WASM_THREADS must be a positive integer, got "${fromEnv}"`);
    return Math.min(n, 8);
  }
  return Math.max(1, Math.min(8, os.availableParallelism?.() ?? os.cpus().length));
}

const TENSORFLOW_PACKAGES = {
  gpu: ['@tensorflow/tfjs-node-gpu', 'CUDA GPU (TensorFlow native library)'],
  cpu: ['@tensorflow/tfjs-node', `CPU (TensorFlow native library, ${os.cpus().length} cores)`],
} as const;

async function loadTensorflow(kinds: readonly ('gpu' | 'cpu')[] = ['gpu', 'cpu']): Promise<BackendInfo> {
  const failures: string[] = [];
  for (const [pkg, device] of kinds.map((k) => TENSORFLOW_PACKAGES[k])) {
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

async function loadWebgpu(allowSoftware: boolean): Promise<BackendInfo> {
  const adapter = await startWebgpu({ allowSoftware });
  return { name: 'webgpu', tfjsBackend: 'webgpu', device: adapterDevice(adapter), threads: 1, adapter };
}

async function loadWasm(options: LoadBackendOptions): Promise<BackendInfo> {
  const { registerWasmTrainingKernels } = await import('./register-wasm-training-kernels.ts');
  const { startWasm } = await import('./wasm-threaded.ts');
  registerWasmTrainingKernels();
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

async function loadCpu(): Promise<BackendInfo> {
  await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend('cpu'))) throw new BackendUnavailableError('backend "cpu" failed to initialise');
  // The cpu backend greets its first tensor with a banner recommending tfjs-node; Kiln reports the backend itself.
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return { name: 'cpu', tfjsBackend: 'cpu', device: 'CPU (plain JavaScript, 1 thread)', threads: 1 };
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

/**
 * Loads and activates a tfjs backend on the global engine shared by tfjs-core and tfjs-layers, and registers what
 * training needs (gradient functions, Kiln's wasm training kernels). `auto` takes the fastest that loads:
 * tfjs-node-gpu (CUDA), WebGPU on a hardware adapter, tfjs-node (CPU), wasm, cpu; never a software WebGPU
 * adapter, which `--backend webgpu` still uses when asked. An explicitly requested backend that cannot load throws a
 * BackendUnavailableError with one line saying why and what to install.
 */
export async function loadBackend(name: BackendName, options: LoadBackendOptions = {}): Promise<BackendInfo> {
  if (!BACKEND_NAMES.includes(name)) {
    throw new Error(`unknown backend "${String(name)}"; expected one of: ${BACKEND_NAMES.join(', ')}`);
  }
  quietTfjs();
  await ensureGradients();
  switch (name) {
    case 'tensorflow':
      return loadTensorflow();
    case 'webgpu':
      return loadWebgpu(true);
    case 'wasm':
      return loadWasm(options);
    case 'cpu':
      return loadCpu();
    case 'auto': {
      const attempts = [() => loadTensorflow(['gpu']), () => loadWebgpu(false), () => loadTensorflow(['cpu'])];
      for (const attempt of attempts) {
        try {
          return await attempt();
        } catch (err) {
          if (!(err instanceof BackendUnavailableError)) throw err;
        }
      }
      try {
        return await loadWasm(options);
      } catch {
        return loadCpu();
      }
    }
  }
}
