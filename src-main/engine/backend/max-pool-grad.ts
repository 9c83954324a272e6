import { backend_util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { simdKernels } from './simd-module.ts';

/**
 * MaxPool gradient: each output's dy goes to the first position (row-major within the window) holding the window's
 * maximum, exactly the rule of the cpu backend. The stock wasm MaxPoolGrad disagrees with cpu (max error 2–3 on
 * small random inputs), so it is replaced. One pass over the windows on the wasm heap is cheap next to the convs.
 */
export const maxPoolGradWasm: KernelFunc = ({ inputs, attrs, backend }) => {
  const wasm = backend as BackendWasm;
  const dy = inputs.dy as TensorInfo;
  const input = inputs.input as TensorInfo;
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as {
    filterSize: [number, number] | number;
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const info = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, strideHeight, strideWidth } = info;
  const { effectiveFilterHeight: fh, effectiveFilterWidth: fw, padInfo } = info;

  // Allocate first: allocation may grow the heap and detach earlier views.
  const dx = wasm.makeOutput(input.shape, 'float32');
  // The common 2×2 stride-2 pool over even maps: one SIMD pass that writes every dx (same first-maximum rule).
  const simd = simdKernels(wasm);
  if (
    simd &&
    fh === 2 &&
    fw === 2 &&
    strideHeight === 2 &&
    strideWidth === 2 &&
    padInfo.top === 0 &&
    padInfo.left === 0 &&
    inHeight === 2 * outHeight &&
    inWidth === 2 * outWidth &&
    inChannels % 4 === 0
  ) {
    const ptr = (t: TensorInfo) => wasm.dataIdMap.get(t.dataId)!.memoryOffset;
    simd.maxpool2_grad(ptr(input), ptr(dy), ptr(dx), batchSize * outHeight, outWidth, inChannels);
    return dx;
  }
  const dxv = wasm.typedArrayFromHeap(dx) as Float32Array;
  const xv = wasm.typedArrayFromHeap(input) as Float32Array;
  const dyv = wasm.typedArrayFromHeap(dy) as Float32Array;
  dxv.fill(0);

  const C = inChannels;
  const rowStride = inWidth * C;
  const imageStride = inHeight * rowStride;
  const best = new Float32Array(C);
  const bestAt = new Int32Array(C);
  let o = 0;
  for (let b = 0; b < batchSize; b++) {
    const base = b * imageStride;
    for (let oh = 0; oh < outHeight; oh++) {
      const h0 = oh * strideHeight - padInfo.top;
      const hStart = Math.max(0, h0);
      const hEnd = Math.min(inHeight, h0 + fh);
      for (let ow = 0; ow < outWidth; ow++, o += C) {
        const w0 = ow * strideWidth - padInfo.left;
        const wStart = Math.max(0, w0);
        const wEnd = Math.min(inWidth, w0 + fw);
        best.fill(-Infinity);
        bestAt.fill(-1);
        for (let h = hStart; h < hEnd; h++) {
          for (let w = wStart; w < wEnd; w++) {
            const p = base + h * rowStride + w * C;
            for (let c = 0; c < C; c++) {
              const v = xv[p + c];
              // Strictly greater keeps the first maximum and lets neither NaN nor an all −∞ window win, as on cpu.
              if (v > best[c]) {
                best[c] = v;
                bestAt[c] = p + c;
              }
            }
          }
        }
        for (let c = 0; c < C; c++) if (bestAt[c] >= 0) dxv[bestAt[c]] += dyv[o + c];
      }
    }
  }
  return dx;
};

export const maxPoolGradConfig: KernelConfig = {
  kernelName: 'MaxPoolGrad',
  backendName: 'wasm',
  kernelFunc: maxPoolGradWasm,
};
