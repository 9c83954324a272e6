import type { Shape } from '../../../src-shared/arch-types.ts';
import { ONNX_LAYOUTS, type OnnxLayout } from '../../../src-shared/export-format.ts';
import type { Graph, GraphNode } from '../arch/graph.ts';
import { BN_EPSILON } from '../layers/bn.ts';
import { attr, OnnxGraphBuilder } from './onnx-builder.ts';
import { DataType, encodeModel } from './onnx-proto.ts';

/**
 * Kiln's graph as an ONNX model. Kiln computes in NHWC; ONNX's Conv, pools and BatchNormalization
 * are NCHW, so every feature map inside the ONNX graph is NCHW and an NHWC input is transposed once.
 */

/** Opset 17 (ONNX 1.12): every op used here is stable in it, and ONNX Runtime has run it since 1.13. */
export const ONNX_OPSET = 17;
/** IR version 8 goes with opset 17. */
export const ONNX_IR_VERSION = 8;

export { ONNX_LAYOUTS, type OnnxLayout };
export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'logits';

export interface NamedWeight {
  data: Float32Array;
  shape: number[];
}

export interface OnnxExportOptions {
  layout: OnnxLayout;
  /** Per-channel mean and std on the 0..1 scale: folded in, so the model takes RGB values in 0..1. */
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  producerVersion: string;
  docString?: string;
  metadata?: Record<string, string>;
}

/** What one graph node's emitter sees. Maps are NCHW values here; `shape` reports Kiln's NHWC shapes. */
export interface OnnxEmitContext {
  b: OnnxGraphBuilder;
  /** The ONNX value holding a graph node's output. */
  value(node: string): string;
  /** Kiln's shape of one example at a graph node's output: [H, W, C] for maps, [C] after pooling. */
  shape(node: string): Shape;
  /** A trained tensor by Kiln's parameter or state name. */
  weight(name: string): NamedWeight;
}

type Emitter<N extends GraphNode> = (node: N, ctx: OnnxEmitContext) => string;
type Emitters = { [Op in Exclude<GraphNode['op'], 'input'>]: Emitter<Extract<GraphNode, { op: Op }>> };

/** TensorFlow's "same" padding, which can put one more row or column after than before (stride 2). */
export function samePads(inSize: number, kernel: number, stride: number): [number, number] {
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + kernel - inSize, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** [kh, kw, in, out] (tfjs) to [out, in, kh, kw] (ONNX). */
export function hwioToOihw(w: NamedWeight): NamedWeight {
  const [kh, kw, ci, co] = w.shape as [number, number, number, number];
  const out = new Float32Array(w.data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++) out[((o * ci + i) * kh + y) * kw + x] = w.data[((y * kw + x) * ci + i) * co + o]!;
  return { data: out, shape: [co, ci, kh, kw] };
}

function globalPool(op: 'GlobalAveragePool' | 'GlobalMaxPool', node: { name: string; input: string }, ctx: OnnxEmitContext): string {
  const pooled = ctx.b.node(op, [ctx.value(node.input)], `${node.name}/pooled`);
  // [N, C, 1, 1] → [N, C], the same channel order as Kiln's pooled [N, C].
  return ctx.b.node('Flatten', [pooled], node.name, { axis: attr.int(1) });
}

// One emitter per graph op. When layers become registry modules, each moves into its layer's module.
const EMITTERS: Emitters = {
  conv(node, ctx) {
    const [h, w] = ctx.shape(node.input) as [number, number, number];
    const kernel = hwioToOihw(ctx.weight(`${node.name}/kernel`));
    const [top, bottom] = samePads(h, node.kernel, node.stride);
    const [left, right] = samePads(w, node.kernel, node.stride);
    const k = ctx.b.floats(`${node.name}/kernel`, kernel.shape, kernel.data);
    return ctx.b.node('Conv', [ctx.value(node.input), k], node.name, {
      kernel_shape: attr.ints([node.kernel, node.kernel]),
      strides: attr.ints([node.stride, node.stride]),
      pads: attr.ints([top, left, bottom, right]),
    });
  },
  sepconv(node, ctx) {
    const [h, w, c] = ctx.shape(node.input) as [number, number, number];
    const [top, bottom] = samePads(h, node.kernel, 1);
    const [left, right] = samePads(w, node.kernel, 1);
    // Depthwise as a grouped Conv: tfjs's [k, k, C, 1] read as [1, C, k, k] has the data order of ONNX's [C, 1, k, k].
    const dw = hwioToOihw(ctx.weight(`${node.name}/depthwise_kernel`));
    const pw = hwioToOihw(ctx.weight(`${node.name}/pointwise_kernel`));
    const depthwise = ctx.b.node('Conv', [ctx.value(node.input), ctx.b.floats(`${node.name}/depthwise_kernel`, [c, 1, node.kernel, node.kernel], dw.data)], `${node.name}/depthwise`, {
      kernel_shape: attr.ints([node.kernel, node.kernel]),
      group: attr.int(c),
      pads: attr.ints([top, left, bottom, right]),
    });
    return ctx.b.node('Conv', [depthwise, ctx.b.floats(`${node.name}/pointwise_kernel`, pw.shape, pw.data)], node.name, { kernel_shape: attr.ints([1, 1]) });
  },
  bn(node, ctx) {
    const t = (suffix: string) => {
      const w = ctx.weight(`${node.name}/${suffix}`);
      return ctx.b.floats(`${node.name}/${suffix}`, w.shape, w.data);
    };
    return ctx.b.node('BatchNormalization', [ctx.value(node.input), t('gamma'), t('beta'), t('moving_mean'), t('moving_variance')], node.name, {
      epsilon: attr.float(BN_EPSILON),
    });
  },
  relu: (node, ctx) => ctx.b.node('Relu', [ctx.value(node.input)], node.name),
  add: (node, ctx) => ctx.b.node('Add', node.inputs.map((i) => ctx.value(i)), node.name),
  maxpool: (node, ctx) =>
    ctx.b.node('MaxPool', [ctx.value(node.input)], node.name, {
      kernel_shape: attr.ints([node.size, node.size]),
      strides: attr.ints([node.size, node.size]),
    }),
  'global-avg-pool': (node, ctx) => globalPool('GlobalAveragePool', node, ctx),
  'global-max-pool': (node, ctx) => globalPool('GlobalMaxPool', node, ctx),
  // Inference: dropout is the identity, so its output is its input's value.
  dropout: (node, ctx) => ctx.value(node.input),
  dense(node, ctx) {
    const inShape = ctx.shape(node.input);
    if (inShape.length !== 1) throw new Error(`onnx: ${node.name} reads a [${inShape}] map; only pooled vectors are supported`);
    const kernel = ctx.weight(`${node.name}/kernel`);
    const inputs = [ctx.value(node.input), ctx.b.floats(`${node.name}/kernel`, kernel.shape, kernel.data)];
    if (node.useBias) {
      const bias = ctx.weight(`${node.name}/bias`);
      inputs.push(ctx.b.floats(`${node.name}/bias`, bias.shape, bias.data));
    }
    return ctx.b.node('Gemm', inputs, node.name);
  },
  scale: (node, ctx) => ctx.b.node('Mul', [ctx.value(node.input), ctx.b.floats(`${node.name}/factor`, [], Float32Array.of(node.factor))], node.name),
};

/**
 * The ONNX model for `graph` with `weights` (Kiln's names: `<node>/kernel`, `<node>/gamma`,
 * `<node>/moving_mean`, …): float32 RGB input in 0..1 with a dynamic batch, logits out.
 */
export function graphToOnnx(graph: Graph, weights: Map<string, NamedWeight>, opts: OnnxExportOptions): Uint8Array {
  const b = new OnnxGraphBuilder();
  const shapes = new Map(graph.layers.map((l) => [l.name, l.outputShape]));
  const values = new Map<string, string>();
  const [H, W, C] = graph.inputShape as [number, number, number];
  if (C !== opts.mean.length || C !== opts.std.length) throw new Error(`onnx: ${C} input channels but ${opts.mean.length} means and ${opts.std.length} stds`);

  const input = b.fresh(ONNX_INPUT);
  let x = opts.layout === 'nhwc' ? b.node('Transpose', [input], 'input/nchw', { perm: attr.ints([0, 3, 1, 2]) }) : input;
  // The normalisation the run trained with: (x − mean) / std per channel, broadcast over [N, C, H, W].
  x = b.node('Sub', [x, b.floats('input/mean', [C, 1, 1], Float32Array.from(opts.mean))], 'input/centred');
  x = b.node('Div', [x, b.floats('input/std', [C, 1, 1], Float32Array.from(opts.std))], 'input/normalised');
  values.set('input', x);

  const ctx: OnnxEmitContext = {
    b,
    value(name) {
      const v = values.get(name);
      if (v === undefined) throw new Error(`onnx: graph node ${name} is read before it is written`);
      return v;
    },
    shape(name) {
      const s = shapes.get(name);
      if (!s) throw new Error(`onnx: no shape for graph node ${name}`);
      return s;
    },
    weight(name) {
      const w = weights.get(name);
      if (!w) throw new Error(`onnx: no weights named ${name}`);
      return w;
    },
  };
  for (const node of graph.nodes) {
    if (node.op === 'input') continue;
    const emit = EMITTERS[node.op] as Emitter<GraphNode>;
    values.set(node.name, emit(node, ctx));
  }
  const logits = b.node('Identity', [ctx.value(graph.output)], ONNX_OUTPUT);
  if (logits !== ONNX_OUTPUT) throw new Error(`onnx: a graph node is already named ${ONNX_OUTPUT}`);

  return encodeModel({
    irVersion: ONNX_IR_VERSION,
    opset: ONNX_OPSET,
    producerName: 'Kiln',
    producerVersion: opts.producerVersion,
    ...(opts.docString ? { docString: opts.docString } : {}),
    graph: {
      name: 'kiln',
      node: b.nodes,
      initializer: b.initializers,
      input: [
        {
          name: input,
          elemType: DataType.FLOAT,
          shape: opts.layout === 'nhwc' ? ['batch', H, W, C] : ['batch', C, H, W],
          docString: `RGB, values in 0..1 (pixel / 255), ${opts.layout.toUpperCase()}; the training normalisation is applied inside the model`,
        },
      ],
      output: [{ name: logits, elemType: DataType.FLOAT, shape: ['batch', graph.numClasses], docString: 'class logits; softmax gives probabilities' }],
    },
    metadata: opts.metadata ?? {},
  });
}
