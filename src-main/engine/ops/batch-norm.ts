import * as tf from '@tensorflow/tfjs-core';

export interface BatchNormTrainResult {
  y: tf.Tensor4D;
  /** Per-channel batch mean, for the running-statistics update (no gradient flows through it). */
  mean: tf.Tensor1D;
  /** Per-channel biased batch variance (divided by N·H·W), the one used to normalise. */
  variance: tf.Tensor1D;
}

/** Column sums of an [M,C] matrix as a [C] vector: a ones-vector matMul is one XNNPACK GEMM on wasm, where Sum over
 * leading axes transposes the whole tensor first. */
function channelSums(x2: tf.Tensor2D, ones: tf.Tensor2D): tf.Tensor1D {
  return tf.reshape(tf.matMul(ones, x2), [x2.shape[1]]);
}

/**
 * Training-mode batch normalisation over N, H and W of an NHWC tensor, with a hand-written fused gradient.
 *
 * tfjs's autodiff of the naive formula goes through Tile, Sum/Mean over leading axes and broadcasting Equal, which
 * are slow on wasm; this version needs only channel sums (ones-vector matMuls) and broadcast multiply/add, about
 * half the time of the autodiff one. Pure tf ops, so it runs on every backend.
 *
 * The statistics are computed outside the custom-gradient op and reach it by closure, so they are not inputs of the
 * taped node: backprop never differentiates through them (the custom gradient already accounts for them), and the
 * returned mean/variance, used only for the running averages, are pruned from the backward pass.
 */
export function batchNormTrain(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
): BatchNormTrainResult {
  const [n, h, w, c] = x.shape;
  if (gamma.shape[0] !== c || beta.shape[0] !== c) {
    throw new Error(`batchNormTrain: gamma and beta must have ${c} entries (the channels of x), got ${gamma.shape[0]} and ${beta.shape[0]}`);
  }
  const m = n * h * w;
  return tf.tidy(() => {
    const ones = tf.ones([1, m]) as tf.Tensor2D;
    const mean = tf.mul(channelSums(tf.reshape(x, [m, c]), ones), 1 / m) as tf.Tensor1D;
    const centred = tf.sub(x, mean) as tf.Tensor4D;
    const variance = tf.mul(channelSums(tf.reshape(tf.square(centred), [m, c]), ones), 1 / m) as tf.Tensor1D;
    const invStd = tf.rsqrt(tf.add(variance, epsilon)) as tf.Tensor1D;

    // Inputs are (x, gamma, beta, save); x is an input only so the tape routes dx to it.
    const normalise = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [, g, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
      save([centred, invStd, g, ones]);
      const value = tf.add(tf.mul(centred, tf.mul(invStd, g)), b);
      return {
        value,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [xc, inv, gam, one] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor2D];
          const sumDy = channelSums(tf.reshape(dy, [m, c]), one);
          const sumDyXc = channelSums(tf.reshape(tf.mul(dy, xc), [m, c]), one);
          const k = tf.mul(gam, inv); // dx = k·(dy − mean(dy) − x̂·mean(dy·x̂))
          const kXc = tf.mul(k, tf.mul(tf.square(inv), tf.mul(sumDyXc, -1 / m)));
          const kConst = tf.mul(k, tf.mul(sumDy, -1 / m));
          const dx = tf.add(tf.add(tf.mul(dy, k), tf.mul(xc, kXc)), kConst);
          const dGamma = tf.mul(sumDyXc, inv);
          return [dx, dGamma, sumDy];
        },
      };
    });
    const y = normalise(x, gamma, beta) as tf.Tensor4D;
    return { y, mean, variance };
  });
}
