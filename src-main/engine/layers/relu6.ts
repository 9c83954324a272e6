import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { one, size, type LayerModule } from './layer-module.ts';

export type Relu6Node = { op: 'relu6'; name: string; input: string };

/** min(max(x, 0), 6), MobileNetV2's activation. */
export const RELU6: LayerModule<Relu6Node> = {
  op: 'relu6',
  inputs: one,
  infer: (node, inShape) => ({ outputShape: inShape(node.input), flops: size(inShape(node.input)) }),
  forward: (_node, ctx) => tf.relu6(ctx.input()),
  export(_node, ctx) {
    const layer = tfl.layers.reLU({ maxValue: 6, name: ctx.layerName() });
    return { layer, x: layer.apply(ctx.input()) as tfl.SymbolicTensor };
  },
  // Clip takes its bounds as inputs since opset 11.
  onnx: (node, ctx) =>
    ctx.b.node(
      'Clip',
      [
        ctx.value(node.input),
        ctx.b.floats(`${node.name}/min`, [], Float32Array.of(0)),
        ctx.b.floats(`${node.name}/max`, [], Float32Array.of(6)),
      ],
      node.name,
    ),
};
