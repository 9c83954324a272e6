import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';

export type BackendName = 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

export interface BackendInfo {
  name: Exclude<BackendName, 'auto'>;
  /** The name tfjs knows the backend by (`tf.getBackend()`). */
  tfjsBackend: string;
  /** What it runs on, for people and run records, e.g. "CPU (wasm SIMD, 2 threads)". */
  device: string;
  threads: number;
  /** Set when more wasm threads were asked for than could be started, saying why. */
  fallbackReason?: string;
}

export interface LoadBackendOptions {
  /** XNNPACK threads for wasm; default KILN_WASM_THREADS or the number of CPUs (at most 8). */
  wasmThreads?: number;
}

export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'];

/** A backend that cannot be used here; the message is one line saying why and what to install. */
export class BackendUnavailableError extends Error {
  override name = 'BackendUnavailableError';
}

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

async function loadTensorflow(): Promise<BackendInfo> {
  const failures: string[] = [];
  for (const [pkg, device] of [
    ['@tensorflow/tfjs-node-gpu', 'CUDA GPU (TensorFlow native library)'],
    ['@tensorflow/tfjs-node', `CPU (TensorFlow native library, ${os.cpus().length} cores)`],
  ] as const) {
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

/** Dawn needs a Vulkan loader on Linux; without one it prints a warning and finds no adapter, so look first. */
function vulkanLoaderPresent(): boolean {
  if (process.platform !== 'linux') return true;
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
    '/usr/local/lib',
  ];
  if (dirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')))) return true;
  try {
    return fs.readFileSync('/etc/ld.so.cache').includes('libvulkan.so.1');
  } catch {
    return false;
  }
}

async function loadWebgpu(): Promise<BackendInfo> {
  const unavailable = (why: string) => new BackendUnavailableError(`backend "webgpu" is unavailable: ${why}`);
  if (!vulkanLoaderPresent()) {
    throw unavailable('no Vulkan loader (libvulkan.so.1) on this machine; install the GPU driver and `apt-get install libvulkan1`');
  }
  const webgpu = (await importOptional('webgpu')) as {
    create: (options: string[]) => { requestAdapter(): Promise<unknown> };
    globals: Record<string, unknown>;
  } | null;
  if (!webgpu) throw unavailable('the `webgpu` package is not installed (`npm install webgpu@0.6.2`)');
  const gpu = webgpu.create([]);
  const adapter = (await gpu.requestAdapter()) as { info?: { description?: string; vendor?: string } } | null;
  if (!adapter) throw unavailable('no WebGPU adapter found (no usable GPU driver)');
  Object.assign(globalThis, webgpu.globals);
  // tfjs-backend-webgpu looks for navigator.gpu.
  const nav = ((globalThis as unknown as { navigator?: Record<string, unknown> }).navigator ??= {});
  Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  if ((await importOptional('@tensorflow/tfjs-backend-webgpu')) === null) {
    throw unavailable('@tensorflow/tfjs-backend-webgpu is not installed (`npm install @tensorflow/tfjs-backend-webgpu@4.22.0`)');
  }
  if (!(await tf.setBackend('webgpu'))) throw unavailable('tfjs could not initialise it on the adapter found');
  const name = adapter.info?.description || adapter.info?.vendor || 'adapter';
  return { name: 'webgpu', tfjsBackend: 'webgpu', device: `GPU (WebGPU: ${name})`, threads: 1 };
}

async function loadWasm(options: LoadBackendOptions): Promise<BackendInfo> {
  const { registerWasmTrainingKernels } = await import('./register-wasm-training-kernels.ts');
  const { startWasm } = await import('./wasm-threaded.ts');
  registerWasmTrainingKernels();
  const wanted = options.wasmThreads ?? defaultWasmThreads();
  const started = await startWasm(wanted);
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
 * tfjs-node-gpu, tfjs-node, WebGPU, wasm, cpu. An explicitly requested backend that cannot load throws a
 * BackendUnavailableError with one line saying why and what to install.
 */
export async function loadBackend(name: BackendName, options: LoadBackendOptions = {}): Promise<BackendInfo> {
  if (!BACKEND_NAMES.includes(name)) {
    throw new Error(`unknown backend "${String(name)}"; expected one of: ${BACKEND_NAMES.join(', ')}`);
  }
  await ensureGradients();
  switch (name) {
    case 'tensorflow':
      return loadTensorflow();
    case 'webgpu':
      return loadWebgpu();
    case 'wasm':
      return loadWasm(options);
    case 'cpu':
      return loadCpu();
    case 'auto': {
      for (const attempt of [loadTensorflow, loadWebgpu]) {
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
