import * as tf from '@tensorflow/tfjs-core';

// Kernels a backend may provide to do batch norm in a few passes (the wasm ones: backend/batch-norm-kernels.ts).
const FUSED_STATS = 'KilnBnStats';
const FUSED_APPLY = 'KilnBnApply';
const FUSED_GRAD = 'KilnBnGrad';

export interface BatchNormTrainResult {
  y: tf.Tensor4D;
  /** Per-channel batch mean, for the running-statistics update (no gradient flows through it). */
  mean: tf.Tensor1D;
  /** Per-channel biased batch variance (divided by N·H·W), the one used to normalise. */
  variance: tf.Tensor1D;
}

/**
 * Per-channel means of an NHWC tensor as a [C] vector. An average pool over the whole H×W window (one XNNPACK pass)
 * followed by a [1,N]×[N,C] matMul is about 20× faster on wasm than one ones-vector matMul over N·H·W rows (which
 * repacks the whole tensor as GEMM weights) and than Sum over leading axes (which transposes it first).
 */
function channelMeans(x: tf.Tensor4D, batchWeights: tf.Tensor2D): tf.Tensor1D {
  const [n, h, w, c] = x.shape;
  const spatial = h === 1 && w === 1 ? x : tf.avgPool(x, [h, w], 1, 'valid');
  return tf.reshape(tf.matMul(batchWeights, tf.reshape(spatial, [n, c])), [c]);
}

/**
 * Training-mode batch normalisation over N, H and W of an NHWC tensor, with a hand-written fused gradient.
 *
 * tfjs's autodiff of the naive formula goes through Tile, Sum/Mean over leading axes and broadcasting Equal, which
 * are slow on wasm; this version needs only channel means (see channelMeans) and broadcast multiply/add. Pure tf ops, so it runs on every backend.
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
  opts: { relu?: boolean } = {},
): BatchNormTrainResult {
  const [n, h, w, c] = x.shape;
  if (gamma.shape[0] !== c || beta.shape[0] !== c) {
    throw new Error(
      `batchNormTrain: gamma and beta must have ${c} entries (the channels of x), got ${gamma.shape[0]} and ${beta.shape[0]}`,
    );
  }
  if (c % 4 === 0 && tf.getKernel(FUSED_STATS, tf.getBackend())) return fusedBatchNormTrain(x, gamma, beta, epsilon, opts.relu ?? false);
  if (opts.relu) {
    return tf.tidy(() => {
      const r = batchNormTrain(x, gamma, beta, epsilon);
      return { ...r, y: tf.relu(r.y) };
    });
  }
  return tf.tidy(() => {
    const batchWeights = tf.fill([1, n], 1 / n) as tf.Tensor2D;
    const mean = channelMeans(x, batchWeights);
    const centred = tf.sub(x, mean) as tf.Tensor4D;
    const variance = channelMeans(tf.square(centred), batchWeights);
    const invStd = tf.rsqrt(tf.add(variance, epsilon)) as tf.Tensor1D;

    // Inputs are (x, gamma, beta, save); x is an input only so the tape routes dx to it.
    const normalise = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [, g, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
      save([centred, invStd, g, batchWeights]);
      const value = tf.add(tf.mul(centred, tf.mul(invStd, g)), b);
      return {
        value,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [xc, inv, gam, weights] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor2D];
          const meanDy = channelMeans(dy as tf.Tensor4D, weights);
          const meanDyXc = channelMeans(tf.mul(dy, xc) as tf.Tensor4D, weights);
          const k = tf.mul(gam, inv); // dx = k·(dy − mean(dy) − x̂·mean(dy·x̂)), x̂ = xc·inv
          const kXc = tf.neg(tf.mul(k, tf.mul(tf.square(inv), meanDyXc)));
          const dx = tf.add(tf.add(tf.mul(dy, k), tf.mul(xc, kXc)), tf.neg(tf.mul(k, meanDy)));
          const m = n * h * w;
          const dGamma = tf.mul(meanDyXc, tf.mul(inv, m));
          const dBeta = tf.mul(meanDy, m);
          return [dx, dGamma, dBeta];
        },
      };
    });
    const y = normalise(x, gamma, beta) as tf.Tensor4D;
    return { y, mean, variance };
  });
}

/** batchNormTrain through the backend's fused kernels: statistics, normalise, and one kernel for the whole gradient. */
function fusedBatchNormTrain(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon: number, relu: boolean): BatchNormTrainResult {
  // Statistics outside the custom-gradient op, as in the tf-op path: the gradient kernel accounts for them.
  const [mean, variance] = tf.engine().runKernel(FUSED_STATS, { x }, {}) as [tf.Tensor1D, tf.Tensor1D];
  const normalise = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, g, b, save] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    const value = tf.engine().runKernel(FUSED_APPLY, { x: input, mean, variance, gamma: g, beta: b }, { epsilon, relu }) as tf.Tensor4D;
    // Saved, so they outlive the forward pass's scope; a ReLU'd output is its own mask for the gradient.
    save(relu ? [input, g, mean, variance, value] : [input, g, mean, variance]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, gs, m, v, y] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor4D | undefined];
        const inputs = { dy, x: xs, mean: m, variance: v, gamma: gs, ...(y ? { y } : {}) };
        return tf.engine().runKernel(FUSED_GRAD, inputs, { epsilon }) as tf.Tensor[];
      },
    };
  });
  const y = normalise(x, gamma, beta) as tf.Tensor4D;
  return { y, mean, variance };
}
