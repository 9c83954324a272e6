import * as tfl from '@tensorflow/tfjs-layers';
import { attr, samePadsAttr, type AttrValue } from './onnx-emit.ts';

/**
 * Two padding conventions: TensorFlow's "same" (Kiln's own nets; at stride 2 it may pad one more row after than
 * before) and PyTorch's explicit symmetric padding (`pad` on a node: the same number of zeros on every side), which
 * ImageNet backbones trained in PyTorch need to reproduce their logits.
 */

/** Output side of a window of `kernel` at `stride` over `size`, "same" when `pad` is absent. */
export function windowOutput(size: number, kernel: number, stride: number, pad: number | undefined): number {
  return pad === undefined ? Math.ceil(size / stride) : Math.floor((size + 2 * pad - kernel) / stride) + 1;
}

/** The `pad` argument of tf.conv2d / tf.depthwiseConv2d / tf.maxPool. */
export const tfPad = (pad: number | undefined): 'same' | number => pad ?? 'same';

/** The layers export: a ZeroPadding2D in front when the padding is explicit, and the padding the next layer takes. */
export function exportPadding(
  input: tfl.SymbolicTensor,
  pad: number | undefined,
  name: string,
): { x: tfl.SymbolicTensor; padding: 'same' | 'valid' } {
  if (pad === undefined) return { x: input, padding: 'same' };
  if (pad === 0) return { x: input, padding: 'valid' };
  const layer = tfl.layers.zeroPadding2d({ padding: pad, name: `${name}_pad` });
  return { x: layer.apply(input) as tfl.SymbolicTensor, padding: 'valid' };
}

/** ONNX `pads` ([top, left, bottom, right]). */
export function onnxPads(h: number, w: number, kernel: number, stride: number, pad: number | undefined): AttrValue {
  return pad === undefined ? samePadsAttr(h, w, kernel, stride) : attr.ints([pad, pad, pad, pad]);
}
