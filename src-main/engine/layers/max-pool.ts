import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { one, type LayerModule } from './layer-module.ts';
import { attr } from './onnx-emit.ts';

export type MaxPoolNode = { op: 'maxpool'; name: string; input: string; size: number };

export const MAX_POOL: LayerModule<MaxPoolNode> = {
  op: 'maxpool',
  inputs: one,
  infer(node, inShape) {
    const [h, w, c] = inShape(node.input) as [number, number, number];
    const oh = Math.floor(h / node.size);
    const ow = Math.floor(w / node.size);
    if (oh < 1 || ow < 1) throw new Error(`graph: ${node.name} pools a ${h}×${w} map by ${node.size}: the input images are too small`);
    return { outputShape: [oh, ow, c], flops: h * w * c };
  },
  forward: (node, ctx) => tf.maxPool(ctx.input() as tf.Tensor4D, node.size, node.size, 'valid'),
  export(node, ctx) {
    const layer = tfl.layers.maxPooling2d({ poolSize: node.size, strides: node.size, padding: 'valid', name: ctx.layerName() });
    return { layer, x: layer.apply(ctx.input()) as tfl.SymbolicTensor };
  },
  onnx: (node, ctx) =>
    ctx.b.node('MaxPool', [ctx.value(node.input)], node.name, {
      kernel_shape: attr.ints([node.size, node.size]),
      strides: attr.ints([node.size, node.size]),
    }),
};
