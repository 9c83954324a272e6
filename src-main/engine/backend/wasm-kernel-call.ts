import { backend_util, getKernel, type NamedAttrMap, type NamedTensorInfoMap, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * Runs another registered wasm kernel from inside a kernel. Composing the XNNPACK-backed kernels this way keeps
 * the heavy arithmetic in native code while the glue stays in TypeScript. Looked up at call time so a kernel that
 * was replaced is never called by mistake.
 */
export function callWasmKernel(name: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap, backend: BackendWasm): TensorInfo {
  const kernel = getKernel(name, 'wasm');
  if (!kernel) throw new Error(`the wasm backend has no ${name} kernel`);
  return kernel.kernelFunc({ inputs, attrs, backend }) as TensorInfo;
}

export function disposeInfos(backend: BackendWasm, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/** Reinterprets a tensor's data with a new shape, sharing the buffer (the wasm Reshape kernel only bumps a refcount). */
export function reshapeInfo(backend: BackendWasm, x: TensorInfo, shape: number[]): TensorInfo {
  return callWasmKernel('Reshape', { x }, { shape }, backend);
}

export function transposeInfo(backend: BackendWasm, x: TensorInfo, perm: number[]): TensorInfo {
  return callWasmKernel('Transpose', { x }, { perm }, backend);
}

export interface Pads {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/**
 * NHWC convolution through the XNNPACK-backed Conv2D kernel with explicit padding that may be negative on any side;
 * a negative pad crops the input instead, which XNNPACK cannot express.
 */
export function conv2dPadded(
  backend: BackendWasm,
  x: TensorInfo,
  filter: TensorInfo,
  pads: Pads,
  stride: [number, number],
  dilation: [number, number],
): TensorInfo {
  const [n, h, w, c] = x.shape;
  const cropTop = Math.max(0, -pads.top);
  const cropBottom = Math.max(0, -pads.bottom);
  const cropLeft = Math.max(0, -pads.left);
  const cropRight = Math.max(0, -pads.right);
  let input = x;
  if (cropTop + cropBottom + cropLeft + cropRight > 0) {
    input = callWasmKernel(
      'Slice',
      { x },
      { begin: [0, cropTop, cropLeft, 0], size: [n, h - cropTop - cropBottom, w - cropLeft - cropRight, c] },
      backend,
    );
  }
  const pad = [
    [0, 0],
    [Math.max(0, pads.top), Math.max(0, pads.bottom)],
    [Math.max(0, pads.left), Math.max(0, pads.right)],
    [0, 0],
  ];
  const out = callWasmKernel(
    'Conv2D',
    { x: input, filter },
    { strides: stride, pad, dataFormat: 'NHWC', dilations: dilation, dimRoundingMode: undefined } as unknown as NamedAttrMap,
    backend,
  );
  if (input !== x) disposeInfos(backend, input);
  return out;
}

/** The attributes both convolution gradients carry. */
export interface ConvGradAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** The forward convolution's geometry, for a gradient kernel that supports NHWC only. */
export function forwardConvInfo(
  kernel: string,
  attrs: ConvGradAttrs,
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
): backend_util.Conv2DInfo {
  if (attrs.dataFormat === 'NCHW') throw new Error(`${kernel} on wasm supports only NHWC (channelsLast) data`);
  return backend_util.computeConv2DInfo(xShape, filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
}
