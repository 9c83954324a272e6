import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { batchNormTrain } from '../ops/batch-norm.ts';
import { one, size, type LayerModule } from './layer-module.ts';
import { attr, initializer } from './onnx-emit.ts';

export type BnNode = {
  op: 'bn';
  name: string;
  input: string;
  /** Added to the variance; absent: BN_EPSILON (PyTorch's 1e-5). Ported weights keep the epsilon they were trained with. */
  epsilon?: number;
};

export const BN_EPSILON = 1e-5;
/** PyTorch's convention: running = (1 − m)·running + m·batch. */
export const BN_MOMENTUM = 0.1;
/** Keras's BN momentum is PyTorch's complement (running = m·running + (1 − m)·batch); inference ignores it. */
const KERAS_BN_MOMENTUM = 0.9;

/**
 * Batch norm over the channel axis. In training it uses batch statistics and updates its running statistics
 * as a side effect, as PyTorch and tfjs-layers do; fused, it also applies the ReLU that alone reads it.
 */
export const BN: LayerModule<BnNode> = {
  op: 'bn',
  inputs: one,
  absorbs: 'relu',
  infer(node, inShape) {
    const s = inShape(node.input);
    const c = s[s.length - 1]!;
    return { outputShape: s, params: 2 * c, nonTrainable: 2 * c, flops: 4 * size(s) };
  },
  init: (_node, c) => ({
    params: [
      { suffix: 'gamma', values: new Float32Array(c).fill(1), shape: [c], isBnOrBias: true },
      { suffix: 'beta', values: new Float32Array(c), shape: [c], isBnOrBias: true },
    ],
    state: [
      { suffix: 'moving_mean', fill: 0, shape: [c] },
      { suffix: 'moving_variance', fill: 1, shape: [c] },
    ],
  }),
  forward(node, ctx) {
    const eps = node.epsilon ?? BN_EPSILON;
    const x = ctx.input() as tf.Tensor4D;
    const gamma = ctx.param('gamma') as tf.Tensor1D;
    const beta = ctx.param('beta') as tf.Tensor1D;
    const movingMean = ctx.state('moving_mean');
    const movingVar = ctx.state('moving_variance');
    if (!ctx.training) return tf.batchNorm(x, movingMean as tf.Tensor1D, movingVar as tf.Tensor1D, beta, gamma, eps);
    const { y, mean, variance } = batchNormTrain(x, gamma, beta, eps, { relu: ctx.fused });
    const n = x.shape[0] * x.shape[1] * x.shape[2];
    tf.tidy(() => {
      // The running variance is the unbiased estimate, as in PyTorch.
      const unbiased = tf.mul(variance, n / Math.max(n - 1, 1));
      movingMean.assign(tf.add(tf.mul(movingMean, 1 - BN_MOMENTUM), tf.mul(mean, BN_MOMENTUM)));
      movingVar.assign(tf.add(tf.mul(movingVar, 1 - BN_MOMENTUM), tf.mul(unbiased, BN_MOMENTUM)));
    });
    return y;
  },
  export(node, ctx) {
    const layer = tfl.layers.batchNormalization({
      axis: -1,
      epsilon: node.epsilon ?? BN_EPSILON,
      momentum: KERAS_BN_MOMENTUM,
      name: ctx.layerName(),
    });
    return {
      layer,
      x: layer.apply(ctx.input()) as tfl.SymbolicTensor,
      weights: ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((p) => ctx.weight(p)),
    };
  },
  onnx(node, ctx) {
    const t = (suffix: string) => initializer(ctx, `${node.name}/${suffix}`);
    return ctx.b.node(
      'BatchNormalization',
      [ctx.value(node.input), t('gamma'), t('beta'), t('moving_mean'), t('moving_variance')],
      node.name,
      {
        epsilon: attr.float(node.epsilon ?? BN_EPSILON),
      },
    );
  },
};
