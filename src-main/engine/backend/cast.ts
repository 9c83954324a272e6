import type { DataType, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * Cast that shares the input's buffer when the dtype does not change, as the cpu backend does; other casts copy. tfjs's ReLU gradient casts its float32 step mask to float32, so the stock
 * kernel (which always copies) cost a full copy of every ReLU's activations in each training step.
 */
export const castWasm: KernelFunc = ({ inputs, attrs, backend }) => {
  const wasm = backend as BackendWasm;
  const x = inputs.x as TensorInfo;
  const { dtype } = attrs as unknown as { dtype: DataType };
  if (dtype === x.dtype && dtype !== 'string') {
    wasm.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype };
  }
  const out = wasm.makeOutput(x.shape, dtype);
  const src = wasm.typedArrayFromHeap(x);
  const dst = wasm.typedArrayFromHeap(out);
  // To bool is "non-zero", as on cpu; the stock kernel's plain typed-array copy wrapped values modulo 256 instead.
  if (dtype === 'bool') for (let i = 0; i < src.length; i++) dst[i] = src[i] !== 0 ? 1 : 0;
  else dst.set(src);
  return out;
};

export const castConfig: KernelConfig = {
  kernelName: 'Cast',
  backendName: 'wasm',
  kernelFunc: castWasm,
};
