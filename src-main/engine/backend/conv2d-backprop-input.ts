import { type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { conv2dPadded, disposeInfos, forwardConvInfo, type ConvGradAttrs } from './wasm-kernel-call.ts';

/**
 * The filter taps [k0 + j·s] (j = 0..count−1, reversed) of one axis, with their in/out channels swapped, as a filter
 * [TH,TW,F,C] for a stride-1 correlation: w'[a,b,f,c] = w[k0y + (TH−1−a)·sh, k0x + (TW−1−b)·sw, c, f].
 * One JS pass; the wasm Reverse + Transpose kernels took as long as the convolution after them.
 */
function phaseFilter(
  src: Float32Array,
  dst: Float32Array,
  kw: number,
  inC: number,
  outC: number,
  taps: { k0y: number; ty: number; sh: number; k0x: number; tx: number; sw: number },
): void {
  const { k0y, ty, sh, k0x, tx, sw } = taps;
  let d = 0;
  for (let a = 0; a < ty; a++) {
    for (let b = 0; b < tx; b++) {
      const tap = ((k0y + (ty - 1 - a) * sh) * kw + (k0x + (tx - 1 - b) * sw)) * inC * outC;
      for (let f = 0; f < outC; f++) for (let c = 0; c < inC; c++, d++) dst[d] = src[tap + c * outC + f];
    }
  }
}

/** One axis of a stride phase: output positions r, r+s, r+2s, …; the taps k ≡ r+pad (mod s) that reach them. */
function phaseAxis(r: number, s: number, pad: number, kernel: number, inSize: number, outSize: number) {
  const count = Math.ceil((inSize - r) / s); // dx positions in this phase
  const k0 = (r + pad) % s;
  const taps = k0 < kernel ? Math.ceil((kernel - k0) / s) : 0;
  const q = (r + pad - k0) / s; // dx[r + s·m] reads dy[m + q − j] through tap k0 + j·s
  return { count, k0, taps, before: taps - 1 - q, after: count + q - outSize };
}

/**
 * dx = dy correlated with the filter rotated 180° and its in/out channels swapped, through the XNNPACK Conv2D kernel
 * (the stock wasm Conv2DBackpropInput is a plain nested loop in C++).
 *
 * At stride s, dx splits into s×s phases (rows ≡ ry, columns ≡ rx mod s), each a stride-1 correlation of dy itself
 * with just the taps that reach that phase, written back interleaved. Zero-stuffing dy instead would convolve a
 * tensor s² times the size of dy with the whole filter: at stride 2 with a 3×3 filter that is 4× the arithmetic
 * (36 taps against 4+2+2+1) and a 4×-dy buffer; a 1×1 stride-2 shortcut needs one phase and zeros elsewhere.
 */
export const conv2dBackpropInputWasm: KernelFunc = ({ inputs, attrs, backend }) => {
  const wasm = backend as BackendWasm;
  const dy = inputs.dy as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const { inputShape } = attrs as unknown as { inputShape: [number, number, number, number] };
  const info = forwardConvInfo(
    'Conv2DBackpropInput',
    attrs as unknown as ConvGradAttrs,
    inputShape,
    filter.shape as [number, number, number, number],
  );
  const { batchSize, inHeight, inWidth, outHeight, outWidth, filterHeight, filterWidth, strideHeight: sh, strideWidth: sw, padInfo } = info;
  const [inC, outC] = [filter.shape[2], filter.shape[3]];
  const heap = (t: TensorInfo) => wasm.typedArrayFromHeap(t) as Float32Array;

  const phases: { ry: number; rx: number; y: ReturnType<typeof phaseAxis>; x: ReturnType<typeof phaseAxis> }[] = [];
  for (let ry = 0; ry < sh; ry++) {
    for (let rx = 0; rx < sw; rx++) {
      const y = phaseAxis(ry, sh, padInfo.top, filterHeight, inHeight, outHeight);
      const x = phaseAxis(rx, sw, padInfo.left, filterWidth, inWidth, outWidth);
      if (y.count > 0 && x.count > 0) phases.push({ ry, rx, y, x });
    }
  }
  const convolve = (p: (typeof phases)[number]) => {
    const w = wasm.makeOutput([p.y.taps, p.x.taps, outC, inC], 'float32');
    phaseFilter(heap(filter), heap(w), filterWidth, inC, outC, { k0y: p.y.k0, ty: p.y.taps, sh, k0x: p.x.k0, tx: p.x.taps, sw });
    const pads = { top: p.y.before, bottom: p.y.after, left: p.x.before, right: p.x.after };
    const out = conv2dPadded(wasm, dy, w, pads, [1, 1], [1, 1]);
    disposeInfos(wasm, w);
    return out;
  };

  if (sh === 1 && sw === 1) return convolve(phases[0]!);

  const dx = wasm.makeOutput(inputShape, 'float32');
  if (phases.some((p) => p.y.taps === 0 || p.x.taps === 0)) heap(dx).fill(0);
  for (const p of phases) {
    if (p.y.taps === 0 || p.x.taps === 0) continue;
    const part = convolve(p);
    // Views only now: convolve allocates, which may grow (and so detach) the heap.
    const src = heap(part);
    const dst = heap(dx);
    const rows = p.y.count;
    const cols = p.x.count;
    for (let n = 0, s = 0; n < batchSize; n++) {
      for (let m = 0; m < rows; m++) {
        let d = ((n * inHeight + p.ry + m * sh) * inWidth + p.rx) * inC;
        for (let l = 0; l < cols; l++, s += inC, d += sw * inC) {
          if (inC >= 16) dst.set(src.subarray(s, s + inC), d);
          else for (let c = 0; c < inC; c++) dst[d + c] = src[s + c];
        }
      }
    }
    disposeInfos(wasm, part);
  }
  return dx;
};

export const conv2dBackpropInputConfig: KernelConfig = {
  kernelName: 'Conv2DBackpropInput',
  backendName: 'wasm',
  kernelFunc: conv2dBackpropInputWasm,
};
