import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { one, type LayerModule } from './layer-module.ts';
import { globalPoolOnnx } from './onnx-emit.ts';

export type GlobalAvgPoolNode = { op: 'global-avg-pool'; name: string; input: string };

export const GLOBAL_AVG_POOL: LayerModule<GlobalAvgPoolNode> = {
  op: 'global-avg-pool',
  inputs: one,
  infer(node, inShape) {
    const [h, w, c] = inShape(node.input) as [number, number, number];
    return { outputShape: [c], flops: h * w * c };
  },
  forward: (_node, ctx) => tf.mean(ctx.input(), [1, 2]),
  export(_node, ctx) {
    const layer = tfl.layers.globalAveragePooling2d({ name: ctx.layerName() });
    return { layer, x: layer.apply(ctx.input()) as tfl.SymbolicTensor };
  },
  onnx: (node, ctx) => globalPoolOnnx('GlobalAveragePool', node, ctx),
};
