import * as tf from '@tensorflow/tfjs-core';
import { one, size, type LayerModule } from './layer-module.ts';

export type ScaleNode = { op: 'scale'; name: string; input: string; factor: number };

/** Multiplies by a constant (Page's 0.125 on the logits). */
export const SCALE: LayerModule<ScaleNode> = {
  op: 'scale',
  inputs: one,
  infer: (node, inShape) => ({ outputShape: inShape(node.input), flops: size(inShape(node.input)) }),
  forward: (node, ctx) => tf.mul(ctx.input(), node.factor),
  export(node, ctx) {
    if (!ctx.isFolded())
      throw new Error(
        `export: ${node.name} scales the output of a node other than a dense layer; only a scale right after a dense layer can be exported`,
      );
    return { x: ctx.input() };
  },
  onnx: (node, ctx) =>
    ctx.b.node('Mul', [ctx.value(node.input), ctx.b.floats(`${node.name}/factor`, [], Float32Array.of(node.factor))], node.name),
};
