import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * Identity that shares the input's buffer (one more reference) instead of copying it, as the cpu and webgl
 * backends do. tfjs tensors are immutable, so sharing is safe. The engine runs Identity for every tensor a kernel
 * saves for its gradient (tf.clone), so on wasm the stock copying version cost a full copy of most activations in
 * every training step.
 */
export const identityWasm: KernelFunc = ({ inputs, backend }) => {
  const x = inputs.x as TensorInfo;
  (backend as BackendWasm).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

export const identityConfig: KernelConfig = {
  kernelName: 'Identity',
  backendName: 'wasm',
  kernelFunc: identityWasm,
};
