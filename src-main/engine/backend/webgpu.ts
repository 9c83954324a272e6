import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError } from './backend-unavailable.ts';
import { withNativeStderrSilenced } from './quiet.ts';
import { firstLine, importOptional } from './backend-entry.ts';
import type { WebgpuAdapter } from '../../../src-shared/backend-types.ts';
import { describeAdapter, type GpuAdapterLike } from './webgpu-adapter.ts';

export { adapterDevice, describeAdapter } from './webgpu-adapter.ts';

interface DawnModule {
  create: (options: string[]) => { requestAdapter(options?: object): Promise<GpuAdapterLike | null> };
  globals: Record<string, unknown>;
}

/** Dawn needs a Vulkan loader on Linux; without one it prints a warning and finds no adapter, so look first. */
export function vulkanLoaderPresent(): boolean {
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

// tfjs-backend-webgpu asks for the high-performance adapter; ask the same so both see the same one.
const ADAPTER_OPTIONS = { powerPreference: 'high-performance' };

let dawn: { gpu: ReturnType<DawnModule['create']>; adapter: WebgpuAdapter } | null = null;

/**
 * Finds the adapter WebGPU would train on, without starting tfjs on it. Dawn prints adapter warnings to
 * stderr while it enumerates (two `maxDynamic…` lines on Mesa's software driver): they are silenced here.
 */
export async function probeWebgpu(): Promise<WebgpuAdapter> {
  if (dawn) return dawn.adapter;
  const unavailable = (why: string) => new BackendUnavailableError(`backend "webgpu" is unavailable: ${why}`);
  if (!vulkanLoaderPresent()) {
    throw unavailable('no Vulkan loader (libvulkan.so.1) on this machine; install the GPU driver and `apt-get install libvulkan1`');
  }
  let webgpu: DawnModule | null;
  try {
    webgpu = (await importOptional('webgpu')) as DawnModule | null;
  } catch (err) {
    throw unavailable(`the \`webgpu\` package failed to load: ${firstLine(err)}`);
  }
  if (!webgpu) throw unavailable('the `webgpu` package is not installed (`npm install webgpu@0.6.2`)');
  const gpu = await withNativeStderrSilenced(async () => {
    const g = webgpu.create([]);
    return { g, adapter: await g.requestAdapter(ADAPTER_OPTIONS) };
  });
  if (!gpu.adapter) throw unavailable('no WebGPU adapter found (no usable GPU driver)');
  Object.assign(globalThis, webgpu.globals);
  dawn = { gpu: gpu.g, adapter: describeAdapter(gpu.adapter) };
  return dawn.adapter;
}

/**
 * Starts tfjs's WebGPU backend on the adapter `probeWebgpu` found. `allowSoftware: false` (what `auto` asks)
 * refuses CPU adapters: on a 2-core machine Mesa's llvmpipe trains ~40× slower than wasm.
 */
export async function startWebgpu(opts: { allowSoftware: boolean }): Promise<WebgpuAdapter> {
  const adapter = await probeWebgpu();
  const unavailable = (why: string) => new BackendUnavailableError(`backend "webgpu" is unavailable: ${why}`);
  if (adapter.software && !opts.allowSoftware) {
    throw unavailable(
      `the only adapter is a software one (${adapter.description || adapter.vendor}); ask for --backend webgpu to use it anyway`,
    );
  }
  // tfjs-backend-webgpu looks for navigator.gpu.
  const nav = ((globalThis as unknown as { navigator?: Record<string, unknown> }).navigator ??= {});
  Object.defineProperty(nav, 'gpu', { value: dawn!.gpu, configurable: true });
  let backendModule: unknown;
  try {
    // Literal, so bench/gpu's bundle carries it (it registers itself on import, only where navigator.gpu is set).
    backendModule = await importOptional('@tensorflow/tfjs-backend-webgpu', () => import('@tensorflow/tfjs-backend-webgpu'));
  } catch (err) {
    throw unavailable(`@tensorflow/tfjs-backend-webgpu failed to load: ${firstLine(err)}`);
  }
  if (backendModule === null) {
    throw unavailable('@tensorflow/tfjs-backend-webgpu is not installed (`npm install @tensorflow/tfjs-backend-webgpu@4.22.0`)');
  }
  const ok = await withNativeStderrSilenced(() => tf.setBackend('webgpu'));
  if (!ok) throw unavailable('tfjs could not initialise it on the adapter found');
  return adapter;
}
