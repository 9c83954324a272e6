import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { one, type LayerModule } from './layer-module.ts';
import { attr, hwioToOihw, initializer, samePadsAttr } from './onnx-emit.ts';
import { depthwiseForTraining } from './depthwise-conv.ts';

export type SeparableConvNode = { op: 'sepconv'; name: string; input: string; filters: number; kernel: number };

/**
 * A depthwise-separable convolution (MobileNet, Xception): a k×k filter per channel, then a 1×1 convolution
 * across channels; stride 1, "same" padding, no bias. About k²·C + C·F weights instead of k²·C·F.
 *
 * tfjs's wasm backend has no gradient kernels for DepthwiseConv2dNative: training's depthwise part is
 * depthwiseForTraining (depthwise-conv.ts), whose gradient is computed from shifted slices.
 */
export const SEPARABLE_CONV: LayerModule<SeparableConvNode> = {
  op: 'sepconv',
  inputs: one,
  infer(node, inShape) {
    const [h, w, c] = inShape(node.input) as [number, number, number];
    if (node.kernel % 2 !== 1) throw new Error(`graph: ${node.name}: a separable convolution needs an odd kernel size, got ${node.kernel}`);
    const depthwise = node.kernel * node.kernel * c;
    const pointwise = c * node.filters;
    return { outputShape: [h, w, node.filters], params: depthwise + pointwise, flops: 2 * (depthwise + pointwise) * h * w };
  },
  init(node, c, rng) {
    const k = node.kernel;
    const dStd = Math.sqrt(2 / (k * k));
    const pStd = Math.sqrt(2 / c);
    return {
      params: [
        {
          suffix: 'depthwise_kernel',
          values: Float32Array.from({ length: k * k * c }, () => rng.normal() * dStd),
          shape: [k, k, c, 1],
          isBnOrBias: false,
        },
        {
          suffix: 'pointwise_kernel',
          values: Float32Array.from({ length: c * node.filters }, () => rng.normal() * pStd),
          shape: [1, 1, c, node.filters],
          isBnOrBias: false,
        },
      ],
    };
  },
  forward(node, ctx) {
    const x = ctx.input() as tf.Tensor4D;
    const dw = ctx.param('depthwise_kernel') as tf.Tensor4D;
    const pw = ctx.param('pointwise_kernel') as tf.Tensor4D;
    const depthwise = ctx.training ? depthwiseForTraining(x, dw, node.kernel) : tf.depthwiseConv2d(x, dw, 1, 'same');
    return tf.conv2d(depthwise as tf.Tensor4D, pw, 1, 'same');
  },
  export(node, ctx) {
    const layer = tfl.layers.separableConv2d({
      filters: node.filters,
      kernelSize: node.kernel,
      strides: 1,
      padding: 'same',
      depthMultiplier: 1,
      useBias: false,
      name: ctx.layerName(),
    });
    return {
      layer,
      x: layer.apply(ctx.input()) as tfl.SymbolicTensor,
      weights: [ctx.weight('depthwise_kernel'), ctx.weight('pointwise_kernel')],
    };
  },
  onnx(node, ctx) {
    const [h, w, c] = ctx.shape(node.input) as [number, number, number];
    // Depthwise as a grouped Conv: tfjs's [k, k, C, 1] read as [1, C, k, k] has the data order of ONNX's [C, 1, k, k].
    const dw = hwioToOihw(ctx.weight(`${node.name}/depthwise_kernel`));
    const depthwise = ctx.b.node(
      'Conv',
      [
        ctx.value(node.input),
        initializer(ctx, `${node.name}/depthwise_kernel`, { data: dw.data, shape: [c, 1, node.kernel, node.kernel] }),
      ],
      `${node.name}/depthwise`,
      {
        kernel_shape: attr.ints([node.kernel, node.kernel]),
        group: attr.int(c),
        pads: samePadsAttr(h, w, node.kernel, 1),
      },
    );
    const pointwise = initializer(ctx, `${node.name}/pointwise_kernel`, hwioToOihw(ctx.weight(`${node.name}/pointwise_kernel`)));
    return ctx.b.node('Conv', [depthwise, pointwise], node.name, { kernel_shape: attr.ints([1, 1]) });
  },
};
