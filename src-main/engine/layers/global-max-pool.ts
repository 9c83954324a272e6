import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { one, type LayerModule } from './layer-module.ts';
import { globalPoolOnnx } from './onnx-emit.ts';

export type GlobalMaxPoolNode = { op: 'global-max-pool'; name: string; input: string };

export const GLOBAL_MAX_POOL: LayerModule<GlobalMaxPoolNode> = {
  op: 'global-max-pool',
  inputs: one,
  infer(node, inShape) {
    const [h, w, c] = inShape(node.input) as [number, number, number];
    return { outputShape: [c], flops: h * w * c };
  },
  forward(_node, ctx) {
    // A maxPool over the whole map, not tf.max: max's gradient is a broadcast Equal mask (slow on wasm, and it
    // hands a tie's gradient to every tied position), maxPool's goes to the first maximum, as PyTorch's MaxPool2d.
    const x = ctx.input() as tf.Tensor4D;
    const [n, h, w, c] = x.shape;
    return tf.reshape(tf.maxPool(x, [h, w], [h, w], 'valid'), [n, c]);
  },
  export(_node, ctx) {
    const layer = tfl.layers.globalMaxPooling2d({ name: ctx.layerName() });
    return { layer, x: layer.apply(ctx.input()) as tfl.SymbolicTensor };
  },
  onnx: (node, ctx) => globalPoolOnnx('GlobalMaxPool', node, ctx),
};
