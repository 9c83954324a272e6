import { BACKENDS, type BackendStatus, type ConcreteBackendName } from '../../../src-shared/backends.ts';
import type { BackendEntry } from './backend-entry.ts';
import { CPU_BACKEND } from './cpu-backend.ts';
import { TENSORFLOW_BACKEND } from './tensorflow-backend.ts';
import { WASM_BACKEND } from './wasm-backend.ts';
import { WEBGPU_BACKEND } from './webgpu-backend.ts';

/**
 * Every backend, by the names `src-shared/backends.ts` declares (the type makes both lists agree). Adding a
 * backend: a module with its BackendEntry, a line here, a name and summary there; the config schema, the
 * CLI help, `auto`, the app's backend list and bench all follow.
 */
export const BACKEND_REGISTRY: { readonly [N in ConcreteBackendName]: BackendEntry } = {
  tensorflow: TENSORFLOW_BACKEND,
  webgpu: WEBGPU_BACKEND,
  wasm: WASM_BACKEND,
  cpu: CPU_BACKEND,
};

/** auto's candidates, fastest first: CUDA, a hardware WebGPU adapter, TensorFlow's CPU build, wasm, cpu. */
export function autoOrder(): { name: ConcreteBackendName; rank: number; load: BackendEntry['auto'][number]['load'] }[] {
  return (Object.entries(BACKEND_REGISTRY) as [ConcreteBackendName, BackendEntry][])
    .flatMap(([name, entry]) => entry.auto.map((a) => ({ name, rank: a.rank, load: a.load })))
    .sort((a, b) => a.rank - b.rank);
}

/** Which backends could train here, judged without loading any; the app lists these. */
export function probeBackends(): BackendStatus[] {
  return (Object.keys(BACKENDS) as ConcreteBackendName[]).map((name) => ({ name, ...BACKENDS[name], ...BACKEND_REGISTRY[name].probe() }));
}
