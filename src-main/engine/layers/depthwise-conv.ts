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
 * [k, k, C, 1]. tfjs's wasm backend has no gradient kernels for DepthwiseConv2dNative: training uses
 * depthwiseForTraining, whose gradient is computed from shifted slices.
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
      ? depthwiseForTraining(x, w, node.kernel, node.stride, node.pad)
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

/** Where each tap of a depthwise convolution reads its input: the output size and the padding around the input. */
function tapGeometry(h: number, wd: number, k: number, stride: number, pad?: number) {
  const oh = windowOutput(h, k, stride, pad);
  const ow = windowOutput(wd, k, stride, pad);
  const before = (size: number, out: number) => (pad !== undefined ? pad : Math.floor(Math.max((out - 1) * stride + k - size, 0) / 2));
  const top = before(h, oh);
  const left = before(wd, ow);
  // Every tap reads rows i … i + s·oh − 1 of the padded map (i < k): pad the end that far (extra rows land in dropped phases).
  const bottom = Math.max(0, k - 1 + oh * stride - h - top);
  const right = Math.max(0, k - 1 + ow * stride - wd - left);
  return { oh, ow, top, left, bottom, right };
}

type Geometry = ReturnType<typeof tapGeometry>;

const padFor = (x: tf.Tensor4D, g: Geometry) =>
  tf.pad(x, [
    [0, 0],
    [g.top, g.bottom],
    [g.left, g.right],
    [0, 0],
  ]);

/** What tap (i, j) of the padded map meets: [n, oh, ow, c]. At stride s a slice s·out long, reshaped so its first phase is the subsample. */
function tapOf(padded: tf.Tensor4D, i: number, j: number, stride: number, g: Geometry): tf.Tensor4D {
  const [n, , , c] = padded.shape;
  const { oh, ow } = g;
  let tap = tf.slice(padded, [0, i, j, 0], [n, oh * stride, ow * stride, c]) as tf.Tensor4D;
  if (stride > 1) {
    // [n, oh, s, ow·s·c] → phase 0 of the rows; then [n, oh, ow, s·c] → phase 0 of the columns.
    const rows = tf.slice(tf.reshape(tap, [n, oh, stride, ow * stride * c]), [0, 0, 0, 0], [n, oh, 1, ow * stride * c]);
    tap = tf.slice(tf.reshape(rows, [n, oh, ow, stride * c]), [0, 0, 0, 0], [n, oh, ow, c]) as tf.Tensor4D;
  }
  return tap;
}

/** The inverse of tapOf for a gradient: `dy` [n, oh, ow, c] placed where tap (i, j) read, zeros elsewhere, on the padded map. */
function placeTap(dy: tf.Tensor4D, i: number, j: number, stride: number, g: Geometry, hp: number, wp: number): tf.Tensor4D {
  const [n, oh, ow, c] = dy.shape;
  let up: tf.Tensor4D = dy;
  if (stride > 1) {
    // Zeros after each row, then after each column: phase 0 of every s×s cell holds dy (rank 4 throughout).
    const rows = tf.pad(tf.reshape(dy, [n, oh, 1, ow * c]), [
      [0, 0],
      [0, 0],
      [0, stride - 1],
      [0, 0],
    ]);
    const cols = tf.pad(tf.reshape(rows, [n * oh * stride, ow, 1, c]), [
      [0, 0],
      [0, 0],
      [0, stride - 1],
      [0, 0],
    ]);
    up = tf.reshape(cols, [n, oh * stride, ow * stride, c]);
  }
  return tf.pad(up, [
    [0, 0],
    [i, hp - i - g.oh * stride],
    [j, wp - j - g.ow * stride],
    [0, 0],
  ]);
}

const tapWeight = (w: tf.Tensor4D, i: number, j: number) => tf.reshape(tf.slice(w, [i, j, 0, 0], [1, 1, w.shape[2], 1]), [w.shape[2]]);

/**
 * tf.depthwiseConv2d(x, w, stride, pad ?? 'same') from pad, slice, reshape, mul and add, whose gradients every
 * backend has: a sum of k² shifted (at stride s, subsampled) slices times per-channel weights.
 */
export function shiftedDepthwise(x: tf.Tensor4D, w: tf.Tensor4D, k: number, stride = 1, pad?: number): tf.Tensor4D {
  const g = tapGeometry(x.shape[1], x.shape[2], k, stride, pad);
  const padded = padFor(x, g);
  let sum: tf.Tensor4D | null = null;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const term = tf.mul(tapOf(padded, i, j, stride, g), tapWeight(w, i, j)) as tf.Tensor4D;
      sum = sum ? (tf.add(sum, term) as tf.Tensor4D) : term;
    }
  }
  return sum!;
}

/**
 * A depthwise convolution for training on any backend: tfjs's own depthwiseConv2d forward (wasm has that kernel,
 * but no gradient kernels for it), and a gradient computed tap by tap, each tap's temporaries freed before the next.
 * Autodiff through shiftedDepthwise would keep every tap's slice and product for the backward pass: measured on
 * MobileNetV2 at 224 px, 1.3 GiB a training image against 0.15 GiB estimated, which overran wasm's 4 GiB heap.
 * This keeps only the input and the weights, as a convolution does.
 */
export function depthwiseForTraining(x: tf.Tensor4D, w: tf.Tensor4D, k: number, stride = 1, pad?: number): tf.Tensor4D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, wi, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    save([xi, wi]);
    return {
      value: tf.depthwiseConv2d(xi, wi, stride, tfPad(pad)),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        depthwiseGrads(dy as tf.Tensor4D, saved[0] as tf.Tensor4D, saved[1] as tf.Tensor4D, k, stride, pad),
    };
  });
  return op(x, w) as tf.Tensor4D;
}

/** dL/dx and dL/dw of shiftedDepthwise(x, w, k, stride, pad) given dL/dy, one tap at a time. */
function depthwiseGrads(dy: tf.Tensor4D, x: tf.Tensor4D, w: tf.Tensor4D, k: number, stride: number, pad?: number): [tf.Tensor, tf.Tensor] {
  const [n, h, wd, c] = x.shape;
  const g = tapGeometry(h, wd, k, stride, pad);
  const hp = g.top + h + g.bottom;
  const wp = g.left + wd + g.right;
  const padded = padFor(x, g);
  let dPadded: tf.Tensor4D | null = null;
  const dTaps: tf.Tensor[] = [];
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const [dTap, next] = tf.tidy(() => {
        const dTap = tf.sum(tf.mul(dy, tapOf(padded, i, j, stride, g)), [0, 1, 2]);
        const placed = placeTap(tf.mul(dy, tapWeight(w, i, j)) as tf.Tensor4D, i, j, stride, g, hp, wp);
        return [dTap, dPadded ? (tf.add(dPadded, placed) as tf.Tensor4D) : placed];
      });
      dPadded?.dispose();
      dPadded = next as tf.Tensor4D;
      dTaps.push(dTap);
    }
  }
  padded.dispose();
  const dx = tf.slice(dPadded!, [0, g.top, g.left, 0], [n, h, wd, c]);
  dPadded!.dispose();
  const dw = tf.reshape(tf.stack(dTaps), [k, k, c, 1]);
  tf.dispose(dTaps);
  return [dx, dw];
}
