import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { one, size, type LayerModule } from './layer-module.ts';

export type ReluNode = { op: 'relu'; name: string; input: string };

export const RELU: LayerModule<ReluNode> = {
  op: 'relu',
  inputs: one,
  infer: (node, inShape) => ({ outputShape: inShape(node.input), flops: size(inShape(node.input)) }),
  // Fused: the BN before it applied it already, so it passes its input through.
  forward: (_node, ctx) => (ctx.training && ctx.fused ? ctx.input() : tf.relu(ctx.input())),
  export(_node, ctx) {
    const layer = tfl.layers.activation({ activation: 'relu', name: ctx.layerName() });
    return { layer, x: layer.apply(ctx.input()) as tfl.SymbolicTensor };
  },
  onnx: (node, ctx) => ctx.b.node('Relu', [ctx.value(node.input)], node.name),
};
