import { type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { callWasmKernel, conv2dPadded, disposeInfos, forwardConvInfo, transposeInfo, type ConvGradAttrs } from './wasm-kernel-call.ts';

/**
 * Rows of the reduction (output pixels × images) one XNNPACK call takes. Its GEMM streams the whole reduction once
 * per tile of outputs, so a much longer reduction falls out of the cache; a much shorter one (at 32×32 that means
 * one or two images) leaves too few channels per indirection entry. Measured: 4096–8192 best, 1024 and ∞ ~1.5× slower.
 */
const REDUCTION_ROWS = 4096;

function imagesPerGroup(batch: number, pixels: number): number {
  const wanted = Math.max(1, Math.floor(REDUCTION_ROWS / pixels));
  const groups = Math.ceil(batch / Math.min(batch, wanted));
  return Math.ceil(batch / groups); // equal groups where possible
}

/** Images n0..n0+g of src [N,P,C] to dst [C,P,g]. */
function batchToChannels(src: Float32Array, n0: number, g: number, pixels: number, channels: number, dst: Float32Array): void {
  const plane = pixels * g;
  for (let i = 0; i < g; i++) {
    let s = (n0 + i) * pixels * channels;
    for (let p = 0; p < pixels; p++, s += channels) {
      let d = p * g + i;
      for (let ch = 0; ch < channels; ch++, d += plane) dst[d] = src[s + ch];
    }
  }
}

/** Images n0..n0+g of src [N,P,F] to dst [P,g,F]: whole rows of F move, so this is a gather of contiguous runs. */
function batchToRows(src: Float32Array, n0: number, g: number, pixels: number, f: number, dst: Float32Array): void {
  for (let i = 0; i < g; i++) {
    const base = (n0 + i) * pixels * f;
    for (let p = 0; p < pixels; p++) {
      const s = base + p * f;
      const d = (p * g + i) * f;
      if (f >= 32) dst.set(src.subarray(s, s + f), d);
      else for (let k = 0; k < f; k++) dst[d + k] = src[s + k];
    }
  }
}

/**
 * dW[kh,kw,c,f] = Σ_{n,oh,ow} x[n, oh·s+kh−pt, ow·s+kw−pl, c] · dy[n,oh,ow,f]
 * is itself a convolution: the input transposed to [C,H,W,N] (channels become the batch, the batch becomes the
 * channels), convolved with dy transposed to [OH,OW,N,F] as the filter, dilation = forward stride, stride 1.
 * Its [C,KH,KW,F] output is transposed back to [KH,KW,C,F]. This keeps the reduction inside XNNPACK's GEMM, which
 * beats im2col + BatchMatMul (the wasm BatchMatMul only takes the XNNPACK path without transposes).
 *
 * The batch is cut into groups of images whose reduction (OH·OW·images) stays near REDUCTION_ROWS, one convolution
 * per group, summed in group order (so the result is deterministic). On ResNet-9's 32×32 layer this ran 1.45× faster
 * than one convolution over the whole batch. The transposes are plain JS loops on the wasm heap: the wasm
 * Transpose kernel's generic index arithmetic was several times slower for these shapes.
 */
export const conv2dBackpropFilterWasm: KernelFunc = ({ inputs, attrs, backend }) => {
  const wasm = backend as BackendWasm;
  const x = inputs.x as TensorInfo;
  const dy = inputs.dy as TensorInfo;
  const { filterShape } = attrs as unknown as { filterShape: [number, number, number, number] };
  const info = forwardConvInfo(
    'Conv2DBackpropFilter',
    attrs as unknown as ConvGradAttrs,
    x.shape as [number, number, number, number],
    filterShape,
  );
  const { inHeight, inWidth, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth, padInfo } = info;

  // Pads that make the output exactly KH×KW; the bottom/right one goes negative when the forward conv skipped
  // trailing input rows, which conv2dPadded turns into a crop.
  const pads = {
    top: padInfo.top,
    left: padInfo.left,
    bottom: filterHeight + (outHeight - 1) * strideHeight - inHeight - padInfo.top,
    right: filterWidth + (outWidth - 1) * strideWidth - inWidth - padInfo.left,
  };
  const [n, , , c] = x.shape;
  const f = dy.shape[3];
  // XNNPACK transposes and packs the filter operand on every call, a third of the call's time here, so the smaller of
  // x and dy should be the filter. Swapping them is simple only at stride 1 (see the swapped branch below).
  const swap = strideHeight === 1 && strideWidth === 1 && c < f;
  const group = imagesPerGroup(n, outHeight * outWidth);
  const heap = (t: TensorInfo) => wasm.typedArrayFromHeap(t) as Float32Array;
  let acc: TensorInfo | null = null; // [C,KH,KW,F], or [F,KH,KW,C] flipped in space when swapped
  for (let n0 = 0; n0 < n; n0 += group) {
    const g = Math.min(group, n - n0);
    let part: TensorInfo;
    if (!swap) {
      const xT = wasm.makeOutput([c, inHeight, inWidth, g], 'float32');
      const dyT = wasm.makeOutput([outHeight, outWidth, g, f], 'float32');
      // Views only after both allocations, which may grow (and so detach) the heap.
      batchToChannels(heap(x), n0, g, inHeight * inWidth, c, heap(xT));
      batchToRows(heap(dy), n0, g, outHeight * outWidth, f, heap(dyT));
      part = conv2dPadded(wasm, xT, dyT, pads, [1, 1], [strideHeight, strideWidth]);
      disposeInfos(wasm, xT, dyT);
    } else {
      // dy [F,OH,OW,g] as the input, x [H,W,g,C] as the filter: out[f,a,b,c] = Σ dy[n,a+i−pT,b+j−pL,f]·x[n,i,j,c],
      // which is dW[KH−1−a, KW−1−b, c, f] when pT = KH−1−top (and the bottom pad makes the output KH tall).
      const dyT = wasm.makeOutput([f, outHeight, outWidth, g], 'float32');
      const xT = wasm.makeOutput([inHeight, inWidth, g, c], 'float32');
      batchToChannels(heap(dy), n0, g, outHeight * outWidth, f, heap(dyT));
      batchToRows(heap(x), n0, g, inHeight * inWidth, c, heap(xT));
      const swapped = {
        top: filterHeight - 1 - padInfo.top,
        left: filterWidth - 1 - padInfo.left,
        bottom: inHeight - outHeight + padInfo.top,
        right: inWidth - outWidth + padInfo.left,
      };
      part = conv2dPadded(wasm, dyT, xT, swapped, [1, 1], [1, 1]);
      disposeInfos(wasm, xT, dyT);
    }
    if (acc === null) acc = part;
    else {
      const sum = callWasmKernel('Add', { a: acc, b: part }, {}, wasm);
      disposeInfos(wasm, acc, part);
      acc = sum;
    }
  }
  if (!swap) {
    const dw = transposeInfo(wasm, acc!, [1, 2, 0, 3]);
    disposeInfos(wasm, acc!);
    return dw;
  }
  const dw = wasm.makeOutput(filterShape, 'float32');
  const src = heap(acc!);
  const dst = heap(dw);
  for (let kh = 0, d = 0; kh < filterHeight; kh++)
    for (let kw = 0; kw < filterWidth; kw++)
      for (let ch = 0; ch < c; ch++)
        for (let k = 0; k < f; k++, d++)
          dst[d] = src[((k * filterHeight + filterHeight - 1 - kh) * filterWidth + filterWidth - 1 - kw) * c + ch];
  disposeInfos(wasm, acc!);
  return dw;
};

export const conv2dBackpropFilterConfig: KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: conv2dBackpropFilterWasm,
};
