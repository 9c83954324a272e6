import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { size, type LayerModule } from './layer-module.ts';

export type AddNode = { op: 'add'; name: string; inputs: [string, string] };

/** A residual sum of two equal shapes. */
export const ADD: LayerModule<AddNode> = {
  op: 'add',
  inputs: (node) => node.inputs,
  infer(node, inShape) {
    const [a, b] = node.inputs.map(inShape);
    if (a!.join() !== b!.join()) throw new Error(`graph: ${node.name} adds shapes [${a}] and [${b}]`);
    return { outputShape: a!, flops: size(a!) };
  },
  forward: (_node, ctx) => tf.add(ctx.input(0), ctx.input(1)),
  export(_node, ctx) {
    const layer = tfl.layers.add({ name: ctx.layerName() });
    return { layer, x: layer.apply([ctx.input(0), ctx.input(1)]) as tfl.SymbolicTensor };
  },
  onnx: (node, ctx) =>
    ctx.b.node(
      'Add',
      node.inputs.map((i) => ctx.value(i)),
      node.name,
    ),
};
