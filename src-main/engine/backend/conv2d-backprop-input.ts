import { type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { callWasmKernel, conv2dPadded, disposeInfos, forwardConvInfo, reshapeInfo, type ConvGradAttrs } from './wasm-kernel-call.ts';

/**
 * dx = dy (zero-stuffed by the stride) convolved at stride 1 with the filter rotated 180° and its in/out channels
 * swapped, all through the XNNPACK Conv2D kernel. The stock wasm Conv2DBackpropInput is a plain nested loop in C++
 * and was the second-largest cost of a training step.
 */
export const conv2dBackpropInputWasm: KernelFunc = ({ inputs, attrs, backend }) => {
  const wasm = backend as BackendWasm;
  const dy = inputs.dy as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const { inputShape } = attrs as unknown as { inputShape: [number, number, number, number] };
  const info = forwardConvInfo('Conv2DBackpropInput', attrs as unknown as ConvGradAttrs, inputShape, filter.shape as [number, number, number, number]);
  const { batchSize, inHeight, inWidth, outHeight, outWidth, outChannels, filterHeight, filterWidth } = info;
  const { strideHeight, strideWidth, padInfo } = info;

  // Zero-stuff dy so that dy'[i·s] = dy[i]; stride 1 needs nothing.
  let dyS = dy;
  if (strideHeight > 1 || strideWidth > 1) {
    const dy6 = reshapeInfo(wasm, dy, [batchSize, outHeight, 1, outWidth, 1, outChannels]);
    const padded = callWasmKernel(
      'PadV2',
      { x: dy6 },
      {
        paddings: [[0, 0], [0, 0], [0, strideHeight - 1], [0, 0], [0, strideWidth - 1], [0, 0]],
        constantValue: 0,
      } as unknown as Record<string, never>,
      wasm,
    );
    disposeInfos(wasm, dy6);
    dyS = reshapeInfo(wasm, padded, [batchSize, outHeight * strideHeight, outWidth * strideWidth, outChannels]);
    disposeInfos(wasm, padded);
  }

  // Rotate the filter 180° and swap its channel axes: [KH,KW,C,F] → [KH,KW,F,C], in one JS pass (the wasm Reverse
  // kernel took 12 ms for a 3×3×128×128 filter, as long as the convolution after it).
  const [inC, outC] = [filter.shape[2], filter.shape[3]];
  const rotated = wasm.makeOutput([filterHeight, filterWidth, outC, inC], 'float32');
  const src = wasm.typedArrayFromHeap(filter) as Float32Array;
  const dst = wasm.typedArrayFromHeap(rotated) as Float32Array;
  for (let kh = 0, d = 0; kh < filterHeight; kh++) {
    for (let kw = 0; kw < filterWidth; kw++) {
      const tap = ((filterHeight - 1 - kh) * filterWidth + (filterWidth - 1 - kw)) * inC * outC;
      for (let f = 0; f < outC; f++) for (let c = 0; c < inC; c++, d++) dst[d] = src[tap + c * outC + f];
    }
  }

  const stuffedHeight = outHeight * strideHeight;
  const stuffedWidth = outWidth * strideWidth;
  const pads = {
    top: filterHeight - 1 - padInfo.top,
    left: filterWidth - 1 - padInfo.left,
    bottom: inHeight - stuffedHeight + padInfo.top,
    right: inWidth - stuffedWidth + padInfo.left,
  };
  const dx = conv2dPadded(wasm, dyS, rotated, pads, [1, 1], [1, 1]);
  disposeInfos(wasm, rotated);
  if (dyS !== dy) disposeInfos(wasm, dyS);
  return dx;
};

export const conv2dBackpropInputConfig: KernelConfig = {
  kernelName: 'Conv2DBackpropInput',
  backendName: 'wasm',
  kernelFunc: conv2dBackpropInputWasm,
};
