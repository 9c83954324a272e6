import { ONNX_LAYOUTS, type OnnxLayout } from '../../../src-shared/export-format.ts';
import type { Graph } from '../arch/graph.ts';
import { layerOf } from '../layers/registry.ts';
import { OnnxGraphBuilder } from './onnx-builder.ts';
import { attr, hwioToOihw, samePads, type NamedWeight, type OnnxEmitContext } from '../layers/onnx-emit.ts';
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
// Per-layer emission lives in each layer module's `onnx` member (engine/layers); these helpers are shared.
export { hwioToOihw, samePads, type NamedWeight, type OnnxEmitContext };
export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'logits';

export interface OnnxExportOptions {
  layout: OnnxLayout;
  /** Per-channel mean and std on the 0..1 scale: folded in, so the model takes RGB values in 0..1. */
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  producerVersion: string;
  docString?: string;
  metadata?: Record<string, string>;
}

/**
 * The ONNX model for `graph` with `weights` (Kiln's names: `<node>/kernel`, `<node>/gamma`,
 * `<node>/moving_mean`, …): float32 RGB input in 0..1 with a dynamic batch, logits out.
 */
export function graphToOnnx(graph: Graph, weights: Map<string, NamedWeight>, opts: OnnxExportOptions): Uint8Array {
  const b = new OnnxGraphBuilder();
  const shapes = new Map(graph.layers.map((l) => [l.name, l.outputShape]));
  const values = new Map<string, string>();
  const [H, W, C] = graph.inputShape as [number, number, number];
  if (C !== opts.mean.length || C !== opts.std.length)
    throw new Error(`onnx: ${C} input channels but ${opts.mean.length} means and ${opts.std.length} stds`);

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
    const emit = layerOf(node).onnx;
    if (!emit) throw new Error(`onnx: no ONNX form for ${node.op} (${node.name})`);
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
      output: [
        {
          name: logits,
          elemType: DataType.FLOAT,
          shape: ['batch', graph.numClasses],
          docString: 'class logits; softmax gives probabilities',
        },
      ],
    },
    metadata: opts.metadata ?? {},
  });
}
