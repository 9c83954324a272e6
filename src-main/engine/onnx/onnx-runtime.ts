import type * as Ort from 'onnxruntime-web';

/**
 * ONNX Runtime (its WebAssembly build, which installs from npm alone and runs in Node and Electron)
 * for checking and using exported models. Loaded on first use: most commands never need it.
 */
let ort: Promise<typeof Ort> | undefined;

function runtime(): Promise<typeof Ort> {
  ort ??= import('onnxruntime-web').then((o) => {
    // Inside a packaged app's archive, worker threads cannot open the threaded build's scripts: one thread there.
    if (/[\\/]app\.asar[\\/]/.test(import.meta.url)) o.env.wasm.numThreads = 1;
    return o;
  });
  return ort;
}

export interface OnnxSession {
  inputNames: readonly string[];
  outputNames: readonly string[];
  /** Runs the model on one float32 input and returns its first output's values. */
  run(input: Float32Array, dims: number[]): Promise<Float32Array>;
  release(): Promise<void>;
}

export async function openOnnxSession(model: Uint8Array): Promise<OnnxSession> {
  const o = await runtime();
  const session = await o.InferenceSession.create(model);
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(input, dims) {
      const feeds = { [session.inputNames[0]!]: new o.Tensor('float32', input, dims) };
      const out = await session.run(feeds);
      return out[session.outputNames[0]!]!.data as Float32Array;
    },
    release: () => session.release(),
  };
}
