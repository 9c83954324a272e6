import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { one, type LayerModule } from './layer-module.ts';
import { attr, hwioToOihw, initializer } from './onnx-emit.ts';
import { exportPadding, onnxPads, tfPad, windowOutput } from './padding.ts';

export type DepthwiseConvNode = {
  op: 'dwconv';
  name: string;
  input: string;
  kernel: number;
  stride: number;
  /** PyTorch's explicit symmetric padding; absent: TensorFlow's "same". */
  pad?: number;
};

/**
 * A depthwise convolution (MobileNet): one k×k filter per channel, channel multiplier 1, no bias. Weights are tfjs's
 * [k, k, C, 1]. Training computes it as a sum of k² shifted (and, at stride 2, subsampled) slices times per-channel
 * weights, as the separable conv does: tfjs's wasm backend has no gradient kernels for DepthwiseConv2dNative.
 */
export const DEPTHWISE_CONV: LayerModule<DepthwiseConvNode> = {
  op: 'dwconv',
  inputs: one,
  infer(node, inShape) {
    const [h, w, c] = inShape(node.input) as [number, number, number];
    const oh = windowOutput(h, node.kernel, node.stride, node.pad);
    const ow = windowOutput(w, node.kernel, node.stride, node.pad);
    if (oh < 1 || ow < 1)
      throw new Error(
        `graph: ${node.name} convolves a ${h}×${w} map with a ${node.kernel}×${node.kernel} kernel: the input images are too small`,
      );
    const params = node.kernel * node.kernel * c;
    return { outputShape: [oh, ow, c], params, flops: 2 * params * oh * ow };
  },
  init(node, c, rng) {
    const k = node.kernel;
    const std = Math.sqrt(2 / (k * k));
    return {
      params: [
        {
          suffix: 'kernel',
          values: Float32Array.from({ length: k * k * c }, () => rng.normal() * std),
          shape: [k, k, c, 1],
          isBnOrBias: false,
        },
      ],
    };
  },
  forward(node, ctx) {
    const x = ctx.input() as tf.Tensor4D;
    const w = ctx.param('kernel') as tf.Tensor4D;
    return ctx.training
      ? shiftedDepthwise(x, w, node.kernel, node.stride, node.pad)
      : tf.depthwiseConv2d(x, w, node.stride, tfPad(node.pad));
  },
  export(node, ctx) {
    const name = ctx.layerName();
    const { x, padding } = exportPadding(ctx.input(), node.pad, name);
    const layer = tfl.layers.depthwiseConv2d({
      kernelSize: node.kernel,
      strides: node.stride,
      padding,
      depthMultiplier: 1,
      useBias: false,
      name,
    });
    return { layer, x: layer.apply(x) as tfl.SymbolicTensor, weights: [ctx.weight('kernel')] };
  },
  onnx(node, ctx) {
    const [h, w, c] = ctx.shape(node.input) as [number, number, number];
    // A grouped Conv: tfjs's [k, k, C, 1] read as [1, C, k, k] has the data order of ONNX's [C, 1, k, k].
    const dw = hwioToOihw(ctx.weight(`${node.name}/kernel`));
    return ctx.b.node(
      'Conv',
      [ctx.value(node.input), initializer(ctx, `${node.name}/kernel`, { data: dw.data, shape: [c, 1, node.kernel, node.kernel] })],
      node.name,
      {
        kernel_shape: attr.ints([node.kernel, node.kernel]),
        strides: attr.ints([node.stride, node.stride]),
        group: attr.int(c),
        pads: onnxPads(h, w, node.kernel, node.stride, node.pad),
      },
    );
  },
};

/**
 * tf.depthwiseConv2d(x, w, stride, pad ?? 'same') from pad, slice, reshape, mul and add, whose gradients every
 * backend has. At stride s each tap reads a slice s·out long, reshaped so that its first phase is the subsample.
 */
export function shiftedDepthwise(x: tf.Tensor4D, w: tf.Tensor4D, k: number, stride = 1, pad?: number): tf.Tensor4D {
  const [n, h, wd, c] = x.shape;
  const oh = windowOutput(h, k, stride, pad);
  const ow = windowOutput(wd, k, stride, pad);
  const before = (size: number, out: number) => (pad !== undefined ? pad : Math.floor(Math.max((out - 1) * stride + k - size, 0) / 2));
  const top = before(h, oh);
  const left = before(wd, ow);
  // Every tap reads rows i … i + s·oh − 1 of the padded map (i < k): pad the end that far (extra rows land in dropped phases).
  const bottom = Math.max(0, k - 1 + oh * stride - h - top);
  const right = Math.max(0, k - 1 + ow * stride - wd - left);
  const padded = tf.pad(x, [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ]);
  let sum: tf.Tensor4D | null = null;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      let tap = tf.slice(padded, [0, i, j, 0], [n, oh * stride, ow * stride, c]) as tf.Tensor4D;
      if (stride > 1) {
        // [n, oh, s, ow·s·c] → phase 0 of the rows; then [n, oh, ow, s·c] → phase 0 of the columns.
        const rows = tf.slice(tf.reshape(tap, [n, oh, stride, ow * stride * c]), [0, 0, 0, 0], [n, oh, 1, ow * stride * c]);
        tap = tf.slice(tf.reshape(rows, [n, oh, ow, stride * c]), [0, 0, 0, 0], [n, oh, ow, c]) as tf.Tensor4D;
      }
      const term = tf.mul(tap, tf.reshape(tf.slice(w, [i, j, 0, 0], [1, 1, c, 1]), [c])) as tf.Tensor4D;
      sum = sum ? (tf.add(sum, term) as tf.Tensor4D) : term;
    }
  }
  return sum!;
}
