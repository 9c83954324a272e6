import * as tf from '@tensorflow/tfjs-core';

export interface ConvPeak {
  /** Best GFLOP/s of the probe convolution on the active backend. */
  gflops: number;
  /** The probe: NHWC input shape and [KH,KW,C,F] filter shape. */
  input: [number, number, number, number];
  filter: [number, number, number, number];
}

/**
 * The active backend's own ceiling: a large 3×3 convolution, the operation training spends most of its
 * arithmetic on, timed in the same process as the run it is compared with (never a figure from another
 * machine or day). The best of several calls, because a ceiling is what the backend can reach when the
 * machine lets it; the first call (operator creation, weight packing) is not timed.
 */
export async function measureConvPeak(opts: { calls?: number; batch?: number } = {}): Promise<ConvPeak> {
  const input: ConvPeak['input'] = [opts.batch ?? 16, 32, 32, 128];
  const filter: ConvPeak['filter'] = [3, 3, 128, 128];
  const flops = 2 * input[0] * input[1] * input[2] * filter[0] * filter[1] * filter[2] * filter[3];
  const x = tf.randomNormal(input) as tf.Tensor4D;
  const w = tf.mul(tf.randomNormal(filter), 0.03) as tf.Tensor4D;
  const once = async () => {
    const t0 = performance.now();
    const y = tf.conv2d(x, w, 1, 'same');
    await y.data();
    y.dispose();
    return (performance.now() - t0) / 1000;
  };
  try {
    await once();
    let best = Infinity;
    for (let i = 0; i < (opts.calls ?? 5); i++) best = Math.min(best, await once());
    return { gflops: flops / best / 1e9, input, filter };
  } finally {
    x.dispose();
    w.dispose();
  }
}
