import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { one, type LayerModule } from './layer-module.ts';
import { hwioToOihw, initializer, attr } from './onnx-emit.ts';
import { exportPadding, onnxPads, tfPad, windowOutput } from './padding.ts';

export type ConvNode = {
  op: 'conv';
  name: string;
  input: string;
  filters: number;
  kernel: number;
  stride: number;
  /** PyTorch's explicit symmetric padding; absent: TensorFlow's "same". */
  pad?: number;
};

/** A 2-D convolution, "same" or explicit padding, no bias (a BN follows). Kaiming-normal weights. */
export const CONV: LayerModule<ConvNode> = {
  op: 'conv',
  inputs: one,
  infer(node, inShape) {
    const [h, w, c] = inShape(node.input);
    const oh = windowOutput(h!, node.kernel, node.stride, node.pad);
    const ow = windowOutput(w!, node.kernel, node.stride, node.pad);
    if (oh < 1 || ow < 1)
      throw new Error(
        `graph: ${node.name} convolves a ${h}×${w} map with a ${node.kernel}×${node.kernel} kernel: the input images are too small`,
      );
    const params = node.kernel * node.kernel * c! * node.filters;
    return { outputShape: [oh, ow, node.filters], params, flops: 2 * params * oh * ow };
  },
  init(node, c, rng) {
    const fanIn = node.kernel * node.kernel * c;
    const std = Math.sqrt(2 / fanIn);
    const values = Float32Array.from({ length: fanIn * node.filters }, () => rng.normal() * std);
    return { params: [{ suffix: 'kernel', values, shape: [node.kernel, node.kernel, c, node.filters], isBnOrBias: false }] };
  },
  forward: (node, ctx) => tf.conv2d(ctx.input() as tf.Tensor4D, ctx.param('kernel') as tf.Tensor4D, node.stride, tfPad(node.pad)),
  export(node, ctx) {
    const name = ctx.layerName();
    const { x, padding } = exportPadding(ctx.input(), node.pad, name);
    const layer = tfl.layers.conv2d({
      filters: node.filters,
      kernelSize: node.kernel,
      strides: node.stride,
      padding,
      useBias: false,
      name,
    });
    return { layer, x: layer.apply(x) as tfl.SymbolicTensor, weights: [ctx.weight('kernel')] };
  },
  onnx(node, ctx) {
    const [h, w] = ctx.shape(node.input) as [number, number, number];
    const kernel = initializer(ctx, `${node.name}/kernel`, hwioToOihw(ctx.weight(`${node.name}/kernel`)));
    return ctx.b.node('Conv', [ctx.value(node.input), kernel], node.name, {
      kernel_shape: attr.ints([node.kernel, node.kernel]),
      strides: attr.ints([node.stride, node.stride]),
      pads: onnxPads(h, w, node.kernel, node.stride, node.pad),
    });
  },
};
