import { BACKEND_NAMES, type BackendChoice } from '../../../src-shared/backends.ts';
import { quietTfjs } from './quiet.ts';
import { BackendUnavailableError } from './backend-unavailable.ts';
import type { BackendInfo, LoadBackendOptions } from './backend-entry.ts';
import { autoOrder, BACKEND_REGISTRY } from './registry.ts';

// The folder's front door: what callers need to load a backend and read what they got.
export type { BackendInfo, LoadBackendOptions };
export { BackendUnavailableError };

/** Gradient functions (register-gradients.ts, the one place that registers them); training needs them. */
async function ensureGradients(): Promise<void> {
  await import('../ops/register-gradients.ts');
}

/**
 * Loads and activates a tfjs backend on the global engine shared by tfjs-core and tfjs-layers, and registers what
 * training needs (gradient functions, the backend's own kernels from the registry). `auto` tries the registry's
 * auto order (tfjs-node-gpu, WebGPU on a hardware adapter, tfjs-node, wasm, cpu) and takes the first that loads.
 * An explicitly requested backend that cannot load throws a BackendUnavailableError saying why and what to install.
 */
export async function loadBackend(name: BackendChoice, options: LoadBackendOptions = {}): Promise<BackendInfo> {
  if (!BACKEND_NAMES.includes(name)) {
    throw new Error(`unknown backend "${String(name)}"; expected one of: ${BACKEND_NAMES.join(', ')}`);
  }
  quietTfjs();
  await ensureGradients();
  if (name !== 'auto') {
    const entry = BACKEND_REGISTRY[name];
    await entry.registerKernels?.();
    return entry.load(options);
  }
  const reasons: string[] = [];
  for (const candidate of autoOrder()) {
    try {
      await BACKEND_REGISTRY[candidate.name].registerKernels?.();
      return await candidate.load(options);
    } catch (err) {
      if (!(err instanceof BackendUnavailableError)) throw err;
      reasons.push(err.message);
    }
  }
  throw new BackendUnavailableError(`no backend could load: ${reasons.join('; ')}`);
}
