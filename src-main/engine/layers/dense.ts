import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { one, type LayerModule } from './layer-module.ts';
import { initializer } from './onnx-emit.ts';

export type DenseNode = { op: 'dense'; name: string; input: string; units: number; useBias: boolean };

/** A fully connected layer; PyTorch's uniform(±1/√fan-in) weights. */
export const DENSE: LayerModule<DenseNode> = {
  op: 'dense',
  inputs: one,
  infer(node, inShape) {
    const [c] = inShape(node.input) as [number];
    return { outputShape: [node.units], params: c * node.units + (node.useBias ? node.units : 0), flops: 2 * c * node.units };
  },
  init(node, c, rng) {
    const bound = 1 / Math.sqrt(c);
    const draw = (n: number) => Float32Array.from({ length: n }, () => (2 * rng.float() - 1) * bound);
    return {
      params: [
        { suffix: 'kernel', values: draw(c * node.units), shape: [c, node.units], isBnOrBias: false },
        ...(node.useBias ? [{ suffix: 'bias', values: draw(node.units), shape: [node.units], isBnOrBias: true }] : []),
      ],
    };
  },
  forward(node, ctx) {
    const y = tf.matMul(ctx.input() as tf.Tensor2D, ctx.param('kernel') as tf.Tensor2D);
    return node.useBias ? tf.add(y, ctx.param('bias')) : y;
  },
  export(node, ctx) {
    // A `scale` right after is folded into the kernel and bias, so the export is made of standard Keras layers.
    const next = ctx.consumers();
    const scaleNode = next.length === 1 && next[0]!.op === 'scale' ? (next[0] as unknown as { name: string; factor: number }) : null;
    const scale = scaleNode?.factor ?? 1;
    if (scaleNode && scale !== 1) ctx.fold(scaleNode.name);
    const scaled = (t: tf.Tensor) => (scale === 1 ? t : ctx.own(tf.mul(t, scale)));
    const layer = tfl.layers.dense({ units: node.units, useBias: node.useBias, name: ctx.layerName() });
    const weights = [scaled(ctx.weight('kernel')), ...(node.useBias ? [scaled(ctx.weight('bias'))] : [])];
    return { layer, x: layer.apply(ctx.input()) as tfl.SymbolicTensor, weights };
  },
  onnx(node, ctx) {
    const inShape = ctx.shape(node.input);
    if (inShape.length !== 1) throw new Error(`onnx: ${node.name} reads a [${inShape}] map; only pooled vectors are supported`);
    const inputs = [ctx.value(node.input), initializer(ctx, `${node.name}/kernel`)];
    if (node.useBias) inputs.push(initializer(ctx, `${node.name}/bias`));
    return ctx.b.node('Gemm', inputs, node.name);
  },
};
