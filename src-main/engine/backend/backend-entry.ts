import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { WebgpuAdapter } from '../../../src-shared/backend-types.ts';
import type { ConcreteBackendName } from '../../../src-shared/backends.ts';

/** What a loaded backend is, as runs record it. */
export interface BackendInfo {
  name: ConcreteBackendName;
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

export type BackendProbe = { available: true } | { available: false; reason: string };

/**
 * One backend in the registry (`registry.ts`). Its name, title and summary live in `src-shared/backends.ts`
 * (the UI and the config schema read them there); this is the code behind the name.
 */
export interface BackendEntry {
  /**
   * Can it be tried here? Judged without loading anything: loading would pull native libraries into the
   * calling process (the app, the server), and trainers load their own. A load may still fail.
   */
  probe(): BackendProbe;
  /** Kiln's kernels for this backend (training kernels tfjs lacks or runs slowly), registered before it loads. */
  registerKernels?(): Promise<void>;
  /**
   * Activates it on the global tfjs engine; the result's `device` says what it runs on. Throws a
   * BackendUnavailableError with one line saying why and what to install.
   */
  load(opts: LoadBackendOptions): Promise<BackendInfo>;
  /**
   * Its places in `auto`'s order, lowest rank first across all entries; each may load less than `load`
   * does (tensorflow's CUDA build alone, WebGPU on a hardware adapter only). Empty: never chosen by auto.
   */
  auto: { rank: number; load(opts: LoadBackendOptions): Promise<BackendInfo> }[];
}

const requireHere = createRequire(import.meta.url);

/** Present in a node_modules the process would resolve from (package "exports" can hide package.json from require.resolve). */
export function installed(pkg: string): boolean {
  return (requireHere.resolve.paths(pkg) ?? []).some((dir) => fs.existsSync(path.join(dir, pkg, 'package.json')));
}

/**
 * Imports an optional package; null when it is absent. One that is present but broken throws. `load` is for a
 * package a bundle should carry (bench/gpu): a literal `import('…')` that a bundler can follow.
 */
export async function importOptional(specifier: string, load: () => Promise<unknown> = () => import(specifier)): Promise<unknown | null> {
  try {
    // By default through a variable, so neither TypeScript nor a bundler insists the package exists.
    return await load();
  } catch (err) {
    const code = (err as { code?: string }).code;
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String((err as Error).message).includes(`'${specifier}'`))
      return null;
    throw err;
  }
}

export function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}
