import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { one, size, type LayerModule } from './layer-module.ts';

export type DropoutNode = { op: 'dropout'; name: string; input: string; rate: number };

export const DROPOUT: LayerModule<DropoutNode> = {
  op: 'dropout',
  inputs: one,
  infer: (node, inShape) => ({ outputShape: inShape(node.input), flops: size(inShape(node.input)) }),
  forward: (node, ctx) => (ctx.training && node.rate > 0 ? tf.dropout(ctx.input(), node.rate, undefined, ctx.nextSeed()) : ctx.input()),
  export(node, ctx) {
    const layer = tfl.layers.dropout({ rate: node.rate, name: ctx.layerName() });
    return { layer, x: layer.apply(ctx.input()) as tfl.SymbolicTensor };
  },
  // Inference: dropout is the identity, so its output is its input's value.
  onnx: (node, ctx) => ctx.value(node.input),
};
