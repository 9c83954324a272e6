import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { one, type LayerModule } from './layer-module.ts';
import { attr } from './onnx-emit.ts';
import { exportPadding, windowOutput } from './padding.ts';

export type MaxPoolNode = {
  op: 'maxpool';
  name: string;
  input: string;
  size: number;
  /** Absent: the window size (non-overlapping windows). */
  stride?: number;
  /** PyTorch's symmetric padding, which no window maximum ever takes; absent: none ("valid"). */
  pad?: number;
};

export const MAX_POOL: LayerModule<MaxPoolNode> = {
  op: 'maxpool',
  inputs: one,
  infer(node, inShape) {
    const [h, w, c] = inShape(node.input) as [number, number, number];
    const stride = node.stride ?? node.size;
    const oh = windowOutput(h, node.size, stride, node.pad ?? 0);
    const ow = windowOutput(w, node.size, stride, node.pad ?? 0);
    if (oh < 1 || ow < 1) throw new Error(`graph: ${node.name} pools a ${h}×${w} map by ${node.size}: the input images are too small`);
    // One comparison per value read: each input once for non-overlapping windows, size² per output otherwise.
    const overlapping = stride !== node.size || node.pad;
    return { outputShape: [oh, ow, c], flops: overlapping ? oh * ow * c * node.size * node.size : h * w * c };
  },
  forward: (node, ctx) => tf.maxPool(ctx.input() as tf.Tensor4D, node.size, node.stride ?? node.size, node.pad ?? 'valid'),
  export(node, ctx) {
    const name = ctx.layerName();
    // Keras pads with zeros, not −∞: the same maxima here, where a pooled map follows a ReLU and is never negative.
    const { x } = exportPadding(ctx.input(), node.pad ?? 0, name);
    const layer = tfl.layers.maxPooling2d({ poolSize: node.size, strides: node.stride ?? node.size, padding: 'valid', name });
    return { layer, x: layer.apply(x) as tfl.SymbolicTensor };
  },
  onnx: (node, ctx) =>
    ctx.b.node('MaxPool', [ctx.value(node.input)], node.name, {
      kernel_shape: attr.ints([node.size, node.size]),
      strides: attr.ints([node.stride ?? node.size, node.stride ?? node.size]),
      ...(node.pad ? { pads: attr.ints([node.pad, node.pad, node.pad, node.pad]) } : {}),
    }),
};
