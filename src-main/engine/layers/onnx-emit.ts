import type { Shape } from '../../../src-shared/arch-types.ts';

/**
 * What a layer module's `onnx` member sees when it writes its node into an ONNX graph. No protobuf here:
 * layer modules import this file, and only an export loads the encoder.
 */

/** An attribute value, typed as ONNX wants it (a JS number does not say int or float). */
export type AttrValue = { int: number } | { float: number } | { ints: number[] } | { floats: number[] } | { string: string };

export const attr = {
  int: (v: number): AttrValue => ({ int: v }),
  float: (v: number): AttrValue => ({ float: v }),
  ints: (v: number[]): AttrValue => ({ ints: v }),
  floats: (v: number[]): AttrValue => ({ floats: v }),
  string: (v: string): AttrValue => ({ string: v }),
};

export interface NamedWeight {
  data: Float32Array;
  shape: number[];
}

/** The graph being written: nodes and initializers, named uniquely. */
export interface OnnxGraphWriter {
  /** A float32 initializer; returns its (unique) name. */
  floats(name: string, dims: number[], data: Float32Array): string;
  /** Adds a node and returns the name of its (single) output. */
  node(opType: string, inputs: string[], output: string, attrs?: Record<string, AttrValue>): string;
}

/** Feature maps are NCHW inside the ONNX graph; `shape` reports Kiln's NHWC shapes of one example. */
export interface OnnxEmitContext {
  b: OnnxGraphWriter;
  /** The ONNX value holding a graph node's output. */
  value(node: string): string;
  /** Kiln's shape of one example at a graph node's output: [H, W, C] for maps, [C] after pooling. */
  shape(node: string): Shape;
  /** A trained tensor by Kiln's parameter or state name (`<node>/kernel`, `<node>/moving_mean`, …). */
  weight(name: string): NamedWeight;
}

/** TensorFlow's "same" padding, which can put one more row or column after than before (stride 2). */
export function samePads(inSize: number, kernel: number, stride: number): [number, number] {
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + kernel - inSize, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** ONNX Conv `pads` ([top, left, bottom, right]) for "same" padding of an H×W map. */
export function samePadsAttr(h: number, w: number, kernel: number, stride: number): AttrValue {
  const [top, bottom] = samePads(h, kernel, stride);
  const [left, right] = samePads(w, kernel, stride);
  return attr.ints([top, left, bottom, right]);
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

/** A weight as an initializer under its Kiln name. */
export function initializer(ctx: OnnxEmitContext, name: string, w: NamedWeight = ctx.weight(name)): string {
  return ctx.b.floats(name, w.shape, w.data);
}

/** Global pooling, then [N, C, 1, 1] → [N, C]: the same channel order as Kiln's pooled [N, C]. */
export function globalPoolOnnx(
  op: 'GlobalAveragePool' | 'GlobalMaxPool',
  node: { name: string; input: string },
  ctx: OnnxEmitContext,
): string {
  const pooled = ctx.b.node(op, [ctx.value(node.input)], `${node.name}/pooled`);
  return ctx.b.node('Flatten', [pooled], node.name, { axis: attr.int(1) });
}
