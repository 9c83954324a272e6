import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { unpackedPath } from '../../common/asar-path.ts';
import { BackendWasm, getThreadsCount, setThreadsCount, version_wasm } from '@tensorflow/tfjs-backend-wasm';

/*
 * Multithreaded wasm in Node. tfjs 4.22 hard-codes WASM_HAS_MULTITHREAD_SUPPORT to false in Node (tfjs#3830) because
 * its loader hands emscripten blob: URLs for the pthread worker script and for the main script, which Node's
 * worker_threads cannot load. The emscripten glue itself supports Node workers, so we build the threaded-SIMD module
 * ourselves with real file paths:
 *   - the pthread worker script (shipped only as a JS string) is written once to a content-addressed file in tmpdir;
 *   - the main script is the package's own wasm-out/tfjs-backend-wasm-threaded-simd.js;
 *   - backend.cc caps the XNNPACK pool at emscripten_num_logical_cores()/2 (it assumes hyper-threading), which is 1
 *     on a 2-core machine, so the wasm import reporting the core count is overridden to 2 × the threads wanted.
 * The result is checked against a plain-JS convolution before use; any failure means single-threaded wasm.
 */

const require = createRequire(import.meta.url);
const INIT_TIMEOUT_MS = 30_000;

type NodeWorker = { unref(): void };
type WasmModule = BackendWasm['wasm'] & {
  cwrap: (name: string, ret: string | null, args: string[]) => (...a: number[]) => number;
  PThread: { terminateAllThreads(): void; runningWorkers: NodeWorker[]; unusedWorkers: NodeWorker[] };
};
type Factory = (config: Record<string, unknown>) => Promise<WasmModule>;

// In the packaged app the folder is unpacked beside app.asar: the pthread workers load the main script by path.
function wasmOutDir(): string {
  return unpackedPath(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'wasm-out'));
}

/** The pthread worker script as a file; emscripten's Node path needs something worker_threads can open. */
function workerScriptFile(dir: string): string {
  const { wasmWorkerContents } = require(path.join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js')) as {
    wasmWorkerContents: string;
  };
  // Same escaping tfjs applies: the string's "\n" escapes became real newlines inside a template literal.
  const source = wasmWorkerContents.replace(/\n/g, '\\n');
  const hash = crypto.createHash('sha256').update(source).digest('hex').slice(0, 16);
  const file = path.join(os.tmpdir(), `kiln-tfjs-wasm-${version_wasm}-${hash}.worker.cjs`);
  if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== source) {
    const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    fs.writeFileSync(tmp, source);
    fs.renameSync(tmp, file);
  }
  return file;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function createThreadedModule(threads: number, timeoutMs: number): Promise<WasmModule> {
  const dir = wasmOutDir();
  const mainScript = path.join(dir, 'tfjs-backend-wasm-threaded-simd.js');
  const wasmFile = path.join(dir, 'tfjs-backend-wasm-threaded-simd.wasm');
  const workerFile = workerScriptFile(dir);
  const factory = require(mainScript) as Factory;
  let abortMessage = '';
  const pending = factory({
    mainScriptUrlOrBlob: mainScript,
    locateFile: (file: string, prefix: string) =>
      file.endsWith('.worker.js') ? workerFile : file.endsWith('.wasm') ? wasmFile : prefix + file,
    instantiateWasm: (
      imports: { env: Record<string, unknown> },
      receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void,
    ) => {
      imports.env.emscripten_num_logical_cores = () => 2 * threads;
      WebAssembly.instantiate(new Uint8Array(fs.readFileSync(wasmFile)), imports as WebAssembly.Imports).then(
        (r) => receive(r.instance, r.module),
        (err: unknown) => {
          abortMessage = String(err);
        },
      );
      return {};
    },
    onAbort: (msg: string) => {
      abortMessage = String(msg);
    },
    // Emscripten's own printErr would write straight to fd 2; keep its words for the error instead.
    printErr: (msg: string) => {
      abortMessage = String(msg);
    },
  });
  let module: WasmModule;
  try {
    module = await withTimeout(pending, timeoutMs, 'starting the threaded wasm module');
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}${abortMessage ? ` (${abortMessage})` : ''}`, { cause: err });
  }
  // The bridge tfjs's own init() sets up; BackendWasm expects it.
  (module as unknown as { tfjs: unknown }).tfjs = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };
  return module;
}

/** A convolution big enough for XNNPACK to split across threads, against a plain-JS reference. */
function selfCheck(): void {
  const [n, h, w, c, f, k] = [2, 12, 12, 16, 16, 3];
  const xv = new Float32Array(n * h * w * c).map((_, i) => Math.sin(i * 0.37));
  const wv = new Float32Array(k * k * c * f).map((_, i) => Math.cos(i * 0.11));
  const got = tf.tidy(() => tf.conv2d(tf.tensor4d(xv, [n, h, w, c]), tf.tensor4d(wv, [k, k, c, f]), 1, 'same').dataSync());
  let maxDiff = 0;
  let scale = 0;
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let o = 0; o < f; o++) {
          let s = 0;
          for (let ky = 0; ky < k; ky++)
            for (let kx = 0; kx < k; kx++) {
              const iy = y + ky - 1;
              const ix = x + kx - 1;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              for (let i = 0; i < c; i++) s += xv[((b * h + iy) * w + ix) * c + i] * wv[((ky * k + kx) * c + i) * f + o];
            }
          maxDiff = Math.max(maxDiff, Math.abs(s - got[((b * h + y) * w + x) * f + o]));
          scale = Math.max(scale, Math.abs(s));
        }
  if (!(maxDiff <= 1e-4 * scale)) throw new Error(`threaded conv2d disagrees with the reference (max error ${maxDiff})`);
}

type Registry = Record<string, { factory: () => tf.KernelBackend | Promise<tf.KernelBackend>; priority: number }>;
const registry = (): Registry => (tf.engine() as unknown as { registryFactory: Registry }).registryFactory;

/** tfjs's own single-threaded SIMD factory, kept so a failed threaded start can put it back. */
const stockFactory = registry().wasm;

let active: { threads: number } | null = null;

// removeBackend disposes an initialised instance (terminating its pthread workers) and drops the factory; unlike
// findBackend it never starts initialising a backend as a side effect.
function unregisterWasm(): void {
  if (registry().wasm) tf.removeBackend('wasm');
}

function restoreStock(): void {
  unregisterWasm();
  tf.registerBackend('wasm', stockFactory.factory, stockFactory.priority);
  active = null;
}

export interface WasmStart {
  threads: number;
  /** Why more threads than this were not used, when they were asked for. */
  fallbackReason?: string;
}

/**
 * Makes `wasm` the active tfjs backend with the given number of XNNPACK threads (1 = tfjs's stock SIMD build),
 * falling back to one thread, with the reason, when the threaded build cannot start or fails its check.
 */
export async function startWasm(threads: number, options: { initTimeoutMs?: number } = {}): Promise<WasmStart> {
  const wanted = Math.max(1, Math.min(8, Math.floor(threads))); // the module pre-spawns 8 pthread workers
  if (wanted === 1) {
    if (active) restoreStock();
    if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise');
    return { threads: 1 };
  }
  if (active?.threads === wanted) {
    await tf.setBackend('wasm');
    return { threads: wanted };
  }
  try {
    const module = await createThreadedModule(wanted, options.initTimeoutMs ?? INIT_TIMEOUT_MS);
    setThreadsCount(wanted);
    const backend = new BackendWasm(module);
    unregisterWasm();
    tf.registerBackend('wasm', () => backend, stockFactory.priority);
    active = { threads: wanted };
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs could not initialise the threaded wasm backend');
    const got = getThreadsCount();
    if (got !== wanted) throw new Error(`XNNPACK started ${got} threads instead of ${wanted}`);
    selfCheck();
    // XNNPACK's pool threads wait for work forever and emscripten refs the workers running them, which would keep
    // the process alive after its work is done; unref'd, Node ends them when the main thread finishes.
    for (const worker of [...module.PThread.runningWorkers, ...module.PThread.unusedWorkers]) worker.unref();
    return { threads: wanted };
  } catch (err) {
    restoreStock();
    if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise', { cause: err });
    return { threads: 1, fallbackReason: err instanceof Error ? err.message : String(err) };
  }
}
