import { backend_util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { callWasmKernel, conv2dPadded, disposeInfos, reshapeInfo, transposeInfo } from './wasm-kernel-call.ts';

/**
 * dx = dy (zero-stuffed by the stride) convolved at stride 1 with the filter rotated 180° and its in/out channels
 * swapped, all through the XNNPACK Conv2D kernel. The stock wasm Conv2DBackpropInput is a plain nested loop in C++
 * and was the second-largest cost of a training step.
 */
export const conv2dBackpropInputWasm: KernelFunc = ({ inputs, attrs, backend }) => {
  const wasm = backend as BackendWasm;
  const dy = inputs.dy as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as {
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    inputShape: [number, number, number, number];
  };
  if (dataFormat === 'NCHW') throw new Error('Conv2DBackpropInput on wasm supports only NHWC (channelsLast) data');
  const info = backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
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

  // Rotate the filter 180° and swap its channel axes: [KH,KW,C,F] → [KH,KW,F,C].
  const reversed = callWasmKernel('Reverse', { x: filter }, { dims: [0, 1] }, wasm);
  const rotated = transposeInfo(wasm, reversed, [0, 1, 3, 2]);
  disposeInfos(wasm, reversed);

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
