import { backend_util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { conv2dPadded, disposeInfos, transposeInfo } from './wasm-kernel-call.ts';

/**
 * dW[kh,kw,c,f] = Σ_{n,oh,ow} x[n, oh·s+kh−pt, ow·s+kw−pl, c] · dy[n,oh,ow,f]
 * is itself a convolution: the input transposed to [C,H,W,N] (channels become the batch, the batch becomes the
 * channels), convolved with dy transposed to [OH,OW,N,F] as the filter, dilation = forward stride, stride 1.
 * Its [C,KH,KW,F] output is transposed back to [KH,KW,C,F]. This keeps the whole reduction inside one XNNPACK GEMM,
 * which beats im2col + BatchMatMul (the wasm BatchMatMul only takes the XNNPACK path without transposes).
 */
export const conv2dBackpropFilterWasm: KernelFunc = ({ inputs, attrs, backend }) => {
  const wasm = backend as BackendWasm;
  const x = inputs.x as TensorInfo;
  const dy = inputs.dy as TensorInfo;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as {
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number];
  };
  if (dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter on wasm supports only NHWC (channelsLast) data');
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const { inHeight, inWidth, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth, padInfo } = info;

  const xT = transposeInfo(wasm, x, [3, 1, 2, 0]); // [C,H,W,N]
  const dyT = transposeInfo(wasm, dy, [1, 2, 0, 3]); // [OH,OW,N,F]
  // Pads that make the output exactly KH×KW; the bottom/right one goes negative when the forward conv skipped
  // trailing input rows, which conv2dPadded turns into a crop.
  const pads = {
    top: padInfo.top,
    left: padInfo.left,
    bottom: filterHeight + (outHeight - 1) * strideHeight - inHeight - padInfo.top,
    right: filterWidth + (outWidth - 1) * strideWidth - inWidth - padInfo.left,
  };
  const dwT = conv2dPadded(wasm, xT, dyT, pads, [1, 1], [strideHeight, strideWidth]); // [C,KH,KW,F]
  disposeInfos(wasm, xT, dyT);
  const dw = transposeInfo(wasm, dwT, [1, 2, 0, 3]);
  disposeInfos(wasm, dwT);
  return dw;
};

export const conv2dBackpropFilterConfig: KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: conv2dBackpropFilterWasm,
};
